/**
 * The plugin's screens as pure functions of the gathered model and a Style (colours on or off), so every screen can be
 * tested byte for byte: `status` (one screen with the whole story, ending with what to do next), and the ring drawn as
 * cells coloured by owner with moves in flight marked, or as JSON.
 */
import { describeProgress, formatBytes, formatDuration, percentMoved, rebalanceSeconds } from "../node/ring/index.js";
import type { NodeStats } from "../node/stats/index.js";
import { percentBar, table, type Style } from "../lib/terminal.js";
import { eventTime, type MemberRow, type StatusModel } from "./model.js";

const ago = (iso: string | undefined, nowMs: number) => (iso ? formatDuration(Math.max(0, (nowMs - Date.parse(iso)) / 1000)) : "?");

function conditionCell(c: MemberRow["condition"], s: Style): string {
  if (c === "up") return s.green(c);
  if (c === "down" || c === "absent") return s.red(c);
  return s.yellow(c);
}

export function renderStatus(m: StatusModel, s: Style): string {
  const out: string[] = [];
  const phase = m.phase ?? "Unknown";
  const phaseCell = phase === "Stable" ? s.green(phase) : phase === "Degraded" ? s.red(phase) : s.yellow(phase);
  out.push(`${s.bold("Cluster")} ${m.name} (namespace ${m.namespace})  phase ${phaseCell}  ring epoch ${m.epoch ?? "-"}  ${m.spec.partitions} partitions  ${m.readyReplicas}/${m.spec.replicas} ready${m.spec.paused ? s.yellow("  PAUSED") : ""}`);
  if (m.message) out.push(m.message);
  out.push("");
  out.push(
    table(
      m.conditions.map((c) => {
        const bad = c.type === "Degraded" ? c.status === "True" : c.type === "Available" && c.status !== "True";
        return [s.bold(c.type), bad ? s.red(c.status) : c.status, c.reason, c.message];
      }),
    ),
  );

  const r = m.rebalance;
  if (r) {
    out.push("", s.bold(r.finishTime ? "Last rebalance" : `Rebalance in flight (ring epoch ${r.epoch})`));
    if (r.finishTime) {
      const seconds = rebalanceSeconds(r);
      out.push(`  moved ${r.partitionsTotal} partitions (${formatBytes(r.bytesMoved)})${seconds !== undefined ? ` in ${formatDuration(seconds)}` : ""}, finished ${ago(r.finishTime, m.observedAt)} ago`);
    } else {
      const summary = describeProgress({
        epoch: r.epoch,
        partitionsTotal: r.partitionsTotal,
        partitionsMoved: r.partitionsMoved,
        partitionsActive: 0,
        keysMoved: 0,
        bytesMoved: r.bytesMoved,
        bytesTotalEstimate: r.bytesTotalEstimate,
        startedAtMs: r.startTime ? Date.parse(r.startTime) : undefined,
        bytesPerSecond: r.bytesPerSecond,
        etaSeconds: r.etaSeconds,
        receivers: [],
      });
      out.push(`  ${s.yellow(percentBar(percentMoved(r)))}  ${summary}`);
    }
  }

  out.push("", s.bold("Members"));
  const rows = [["MEMBER", "ZONE", "NODE", "INCARNATION", "STATE", "PARTITIONS", "IDEAL", "DISK", "OPS/S", "P99 MS", "LAG MS"]];
  for (const x of m.members) {
    const st = x.stats;
    const p99 = st ? Math.max(st.rates.latencyMs.get.p99 ?? 0, st.rates.latencyMs.put.p99 ?? 0) : 0;
    rows.push([
      x.id,
      x.zone ?? "-",
      x.node ?? "-",
      x.incarnation ?? "-",
      conditionCell(x.condition, s),
      String(x.partitions),
      String(x.idealPartitions),
      st ? diskCell(st, s) : "-",
      st ? st.rates.opsPerSecond.total.toFixed(1) : "-",
      st && p99 > 0 ? p99.toFixed(1) : "-",
      st ? st.eventLoopLagMs.p99.toFixed(1) : "-",
    ]);
  }
  out.push(indent(table(rows)));
  const unreachable = m.members.filter((x) => x.error);
  for (const x of unreachable) out.push(s.dim(`  ${x.id}: ${x.error}`));

  const hints = m.members.flatMap((x) => Object.entries(x.stats?.hints.byTarget ?? {}).map(([to, h]) => [x.id, to, String(h.count), formatBytes(h.bytes)]));
  out.push("", s.bold("Hints pending per target"));
  out.push(hints.length === 0 ? "  none" : indent(table([["HELD BY", "FOR", "HINTS", "BYTES"], ...hints])));

  const ae = m.members.filter((x) => x.stats);
  out.push("", s.bold("Anti-entropy, last hour"));
  out.push(
    ae.length === 0
      ? "  no node answered"
      : indent(table([["MEMBER", "EXCHANGES", "REPAIRED", "KEYS REPAIRED", "FAILED"], ...ae.map((x) => [x.id, ...[x.stats!.antiEntropy.exchanges, x.stats!.antiEntropy.repaired, x.stats!.antiEntropy.keysRepaired, x.stats!.antiEntropy.failed].map(String)])])),
  );

  out.push("", s.bold(`Events (last ${m.events.length})`));
  out.push(
    m.events.length === 0
      ? "  none"
      : indent(table(m.events.map((e) => [ago(eventTime(e), m.observedAt), e.type === "Warning" ? s.red(e.type) : (e.type ?? ""), e.reason ?? "", (e.message ?? "").replace(/\s+/g, " ")]))),
  );

  const next = advice(m);
  out.push("", s.bold("What to do next"));
  out.push(...(next.length === 0 ? ["  nothing: the cluster is healthy"] : next.map((line) => `  - ${line}`)));
  return out.join("\n") + "\n";
}

function diskCell(st: NodeStats, s: Style): string {
  const used = formatBytes(st.disk.dataBytes);
  if (st.disk.freeBytes === undefined || !st.disk.capacityBytes) return used;
  const freePercent = Math.round((100 * st.disk.freeBytes) / st.disk.capacityBytes);
  const cell = `${used} (${freePercent}% free)`;
  return freePercent < 10 ? s.red(cell) : cell;
}

function indent(text: string): string {
  return text
    .split("\n")
    .map((l) => `  ${l}`)
    .join("\n");
}

/** What a person should look at or do, from what the status shows; empty when all is well. */
export function advice(m: StatusModel): string[] {
  const ns = `-n ${m.namespace}`;
  const out: string[] = [];
  const condition = (type: string) => m.conditions.find((c) => c.type === type);
  const degraded = condition("Degraded");
  if (m.spec.paused) out.push(`the cluster is paused (spec.paused): the operator changes nothing until 'kubectl dynamo resume ${m.name} ${ns}'`);
  if (degraded?.status === "True") {
    switch (degraded.reason) {
      case "InvalidSpec":
        out.push(`fix the spec: ${degraded.message} (kubectl edit dyn/${m.name} ${ns})`);
        break;
      case "ApplyFailed":
        out.push(`the operator cannot apply the cluster's objects; read its log and check its RBAC: ${degraded.message}`);
        break;
      case "RingStepFailed":
        out.push(`committing the ring failed; check that the operator reaches the pods' peer port (8081) and that no NetworkPolicy blocks it: ${degraded.message}`);
        break;
      case "ReplacementBlocked":
        out.push(`a replacement waits for a healthy cluster: ${degraded.message}`);
        break;
      default:
        break;
    }
  }
  for (const x of m.members) {
    if (x.condition === "down") {
      out.push(
        `${x.id} is down: kubectl describe pod ${x.id} ${ns}; kubectl logs ${x.id} ${ns}. If it cannot come back, replace it: kubectl dynamo replace ${x.id} ${ns} (its partitions are rebuilt from the other replicas)`,
      );
    } else if (x.condition === "absent" && x.pod === undefined) {
      out.push(`${x.id} has no pod yet: kubectl get pods ${ns} -l app.kubernetes.io/instance=${m.name}`);
    } else if (x.condition === "suspect") {
      out.push(`${x.id} answers slowly (its peers suspect it): look at its CPU and event-loop lag (kubectl top pod ${x.id} ${ns})`);
    }
    const st = x.stats;
    if (st?.disk.freeBytes !== undefined && st.disk.capacityBytes && st.disk.freeBytes / st.disk.capacityBytes < 0.1) {
      out.push(`${x.id}'s volume is over 90% full: expand its claim (data-${x.id}) or scale out (kubectl scale dyn/${m.name} ${ns} --replicas=${m.spec.replicas + 1})`);
    }
    const hintCount = st?.hints.count ?? 0;
    if (hintCount > 10_000) out.push(`${x.id} holds ${hintCount} hints for members that missed writes: make sure they are up (hints drain once they are)`);
    if (st && st.eventLoopLagMs.p99 > 200) out.push(`${x.id}'s event loop lags ${st.eventLoopLagMs.p99.toFixed(0)} ms at p99: it is CPU-starved; raise its CPU request or scale out`);
  }
  const rebalance = m.rebalance;
  if (rebalance && !rebalance.finishTime && rebalance.startTime && rebalance.partitionsMoved === 0 && m.observedAt - Date.parse(rebalance.startTime) > 10 * 60_000) {
    out.push(`the rebalance has moved nothing in ${ago(rebalance.startTime, m.observedAt)}: see docs/runbooks.md#dynamorebalancestalled`);
  }
  return out;
}

/** The ring's moves in flight, each with the state its receiver reports. */
export function ringMoves(m: StatusModel): { partition: number; from: string; to: string; kind: string; state: string; bytes: number }[] {
  const reported = new Map<string, { state: string; bytes: number }>();
  for (const x of m.members) for (const t of x.stats?.transfers ?? []) reported.set(`${t.partition}->${t.to}`, t);
  return (m.ring?.pending ?? []).map((t) => {
    const r = reported.get(`${t.partition}->${t.to}`);
    return { partition: t.partition, from: t.from, to: t.to, kind: t.kind, state: r?.state ?? "waiting", bytes: r?.bytes ?? 0 };
  });
}

/** `ring --output json`: the same data the drawing shows. */
export function ringJson(m: StatusModel): unknown {
  const ring = m.ring;
  return {
    cluster: m.name,
    namespace: m.namespace,
    epoch: ring?.epoch ?? m.epoch ?? 0,
    partitions: ring?.partitions ?? m.spec.partitions,
    owners: ring?.owners ?? [],
    nextOwners: ring?.nextOwners,
    members: m.members.map((x) => ({ id: x.id, state: x.condition, partitions: x.partitions, idealPartitions: x.idealPartitions })),
    moves: ringMoves(m),
    rebalance: m.rebalance,
  };
}

/**
 * The ring as rows of cells, partition 0 first, reading left to right and wrapping around: each cell is the owner's
 * letter on its colour, followed by a mark when the partition is moving (`>` waiting, `*` streaming, `+` done).
 */
export function renderRing(m: StatusModel, s: Style, columns = 32): string {
  const ring = m.ring;
  if (!ring) return `no node of ${m.name} answered with its ring\n`;
  const ids = m.members.map((x) => x.id);
  for (const owner of ring.owners) if (!ids.includes(owner)) ids.push(owner);
  const letter = (id: string) => symbolOf(ids.indexOf(id));
  const moves = new Map<number, string>();
  for (const mv of ringMoves(m)) {
    const mark = mv.state === "done" ? "+" : mv.state === "active" ? "*" : ">";
    const previous = moves.get(mv.partition);
    if (previous !== "*") moves.set(mv.partition, mark);
  }
  const out = [`${s.bold("Ring")} of ${m.name}: epoch ${ring.epoch}, ${ring.partitions} partitions, ${ring.pending.length} moves in flight`, ""];
  const width = String(ring.partitions - 1).length;
  for (let start = 0; start < ring.owners.length; start += columns) {
    const cells = ring.owners.slice(start, start + columns).map((owner, i) => s.swatch(ids.indexOf(owner), letter(owner)) + (moves.get(start + i) ?? " "));
    out.push(`${String(start).padStart(width)} ${cells.join("")}`);
  }
  out.push("");
  const legend = m.members.map((x) => [s.swatch(ids.indexOf(x.id), letter(x.id)), x.id, conditionCell(x.condition, s), `${x.partitions} partitions`, `ideal ${x.idealPartitions}`]);
  out.push(table(legend));
  if (ring.pending.length > 0) {
    out.push("", `marks: > waiting to move, * streaming, + moved (the new replica is named in 'kubectl dynamo ring ${m.name} -o json')`);
    if (m.rebalance && !m.rebalance.finishTime) out.push(`${percentBar(percentMoved(m.rebalance))}  of the plan's partitions moved`);
  }
  return out.join("\n") + "\n";
}

/** a..z, then A..Z, then digits: enough distinct symbols for any sensible cluster, and "?" past them. */
function symbolOf(index: number): string {
  const symbols = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  return symbols[index] ?? "?";
}
