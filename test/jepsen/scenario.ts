/**
 * A Jepsen-style run in the network lab (it runs inside the lab's client namespace; ./main.ts and the CI test start
 * it there): a five-node cluster under several checked workloads while the seeded nemesis makes faults with the
 * kernel, optionally one long partition, then every fault healed and the checks:
 *
 * - set (siblings bucket): no acknowledged add lost;
 * - set (lww bucket): loss reported — last-writer-wins drops concurrent writes by design;
 * - registers (lww bucket): chained writes never lose to an earlier acknowledged write, blind writes only within
 *   the clocks' spread (./register.ts);
 * - read-your-writes at r + w > n with the context always sent: never stale with pr/pw, counted without;
 * - no 5xx other than 503, no contract-breaking reply (./ops.ts);
 * - convergence: every replica of every key equal within a bound after healing (./convergence.ts);
 * - during the long partition, hints within the configured bounds and memory flat (./sampler.ts).
 *
 * A RingDriver loop runs throughout, as the operator would (it records a wiped node's new incarnation).
 */
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { DynamoClient } from "../../client/index.js";
import { loadNodeConfig } from "../../node/config/index.js";
import { decodeContext } from "../../node/versioning/index.js";
import { seededRandom } from "../../lib/random.js";
import { SetChecker, formatReport, type SetReport } from "../helpers/set-checker.js";
import { NetCluster } from "../netns/cluster.js";
import { currentLab } from "../netns/lab.js";
import { partitionCuts } from "../netns/network.js";
import { checkDetection } from "./detection.js";
import { awaitConvergence, type ConvergenceReport, type KeyRef } from "./convergence.js";
import { FAULT_KINDS, applyFaults, describeFault, healFaults, planSchedule, type FaultKind, type FaultWindow } from "./nemesis.js";
import { OpRecorder, type StatusReport } from "./ops.js";
import { renderTimeline } from "./plot.js";
import { ReadYourWrites, type RywReport } from "./read-your-writes.js";
import { RegisterWorkload, type RegisterReport } from "./register.js";
import { Sampler, type Sample } from "./sampler.js";
import { Timeline } from "./timeline.js";

export const JEPSEN_CONFIG = resolve(new URL(".", import.meta.url).pathname, "config.yaml");
const N = 3;

export interface JepsenOptions {
  seed: number;
  /** Length of the nemesis phase. */
  durationMs: number;
  nodes: number;
  kinds: readonly FaultKind[];
  /** A partition isolating one node under load for this long after the nemesis phase (0: none). */
  longPartitionMs: number;
  /** How long replicas may take to agree after healing before the run fails. */
  convergenceBoundMs: number;
  outDir: string;
  log: (line: string) => void;
}

export interface BoundsReport {
  node: string;
  hintsMax: number;
  hintBytesMax: number;
  hintsRefused: number;
  rssStartBytes: number;
  rssMaxBytes: number;
  rssEndBytes: number;
  violations: string[];
}

export interface JepsenReport {
  seed: number;
  schedule: string[];
  set: SetReport;
  lwwSet: SetReport;
  registers: RegisterReport[];
  readYourWrites: RywReport[];
  status: StatusReport;
  convergence: ConvergenceReport;
  bounds: BoundsReport | undefined;
  clockSpreadMs: number;
  violations: string[];
  timeline: string;
  plot: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runJepsen(options: JepsenOptions): Promise<JepsenReport> {
  const { log } = options;
  const lab = currentLab();
  mkdirSync(options.outDir, { recursive: true });
  const random = seededRandom(options.seed);
  const schedule = planSchedule(options.seed, { durationMs: options.durationMs, nodes: options.nodes, kinds: options.kinds });
  const scheduleText = schedule.map((w) => `${(w.startMs / 1000).toFixed(1)}s +${(w.holdMs / 1000).toFixed(1)}s: ${w.faults.map(describeFault).join(" & ") || "(calm)"}`);
  log(`seed ${options.seed}: ${schedule.length} fault windows over ${options.durationMs / 1000} s`);
  for (const line of scheduleText) log(`  ${line}`);

  const timeline = new Timeline(join(options.outDir, "timeline.jsonl"));
  const cluster = await NetCluster.start({ lab, nodes: options.nodes, config: JEPSEN_CONFIG, partitions: 32, seed: options.seed, log: (m) => timeline.note(m) });
  const urls = cluster.nodes.slice(0, options.nodes).map((n) => n.clientUrl);
  const recorder = new OpRecorder(timeline, (url) => cluster.nodes.find((n) => n.clientUrl === url)?.id ?? url);
  const sampler = new Sampler(cluster, timeline);
  const desired = cluster.nodes.slice(0, options.nodes).map((n) => n.id);
  let stopped = false;
  const driving = driveRing(cluster, desired, timeline, () => stopped);

  const set = new SetChecker({ urls: () => urls, bucket: "sets", keys: 8, clients: 4, rng: random, w: 2, pauseMs: 40, observe: recorder.observer("set") });
  const lwwSet = new SetChecker({ urls: () => urls, bucket: "lww", keys: 4, clients: 2, rng: random, w: 2, pauseMs: 60, prefix: "l", observe: recorder.observer("lww-set") });
  const contextSecret = createHash("sha256").update("dynamo-context\u0000").update(cluster.token).digest();
  const describeContext = (key: string, context: string | undefined) => {
    try {
      return context ? JSON.stringify(decodeContext(context, "lww", Buffer.from(key), contextSecret)) : "{}";
    } catch (err) {
      return `(undecodable: ${(err as Error).message})`;
    }
  };
  const registers = (["chain", "blind"] as const).map((mode) => new RegisterWorkload({ mode, bucket: "lww", keys: 3, urls, recorder, random, pauseMs: 60, describeContext }));
  const ryws = [true, false].map((strict) => new ReadYourWrites({ bucket: "sets", clients: 2, urls, strict, recorder, timeline, random, pauseMs: 60, r: 2, w: 2 }));

  let report: JepsenReport | undefined;
  try {
    sampler.start();
    set.start();
    lwwSet.start();
    for (const r of registers) r.start();
    for (const r of ryws) r.start();
    await sleep(2000);

    const spread = { min: 0, max: 0 };
    const detection: string[] = [];
    await runSchedule(cluster, schedule, timeline, spread, detection, log);

    let bounds: BoundsReport | undefined;
    if (options.longPartitionMs > 0) bounds = await longPartition(cluster, options, random.int(options.nodes), timeline, sampler, log);

    await healEverything(cluster, options.nodes);
    log("faults healed; stopping the clients");
    await set.stop();
    await lwwSet.stop();
    for (const r of registers) await r.stop();
    const rywReports = await Promise.all(ryws.map((r) => r.stop()));

    const keys: KeyRef[] = [
      ...Array.from({ length: 8 }, (_, i) => ({ bucket: "sets", key: set.keyName(i) })),
      ...Array.from({ length: 4 }, (_, i) => ({ bucket: "lww", key: lwwSet.keyName(i) })),
      ...registers.flatMap((r) => r.keys().map((key) => ({ bucket: "lww", key }))),
      ...ryws.flatMap((r) => r.keys().map((key) => ({ bucket: "sets", key }))),
    ];
    log(`waiting for ${keys.length} keys to converge on every replica (bound ${options.convergenceBoundMs / 1000} s)`);
    const convergence = await awaitConvergence(cluster, keys, N, options.convergenceBoundMs);
    timeline.note(convergence.converged ? `replicas converged in ${convergence.ms} ms` : "replicas did not converge");
    log(convergence.converged ? `replicas converged ${convergence.ms} ms after healing` : `replicas still differ: ${convergence.diverged.slice(0, 5).join("; ")}`);

    const setReport = await set.check(urls[0]!, N);
    const lwwSetReport = await lwwSet.check(urls[0]!, N);
    const finals = new Map<string, string | undefined>();
    const reader = new DynamoClient(urls[0]!, { timeoutMs: 10_000 });
    for (const key of registers.flatMap((r) => r.keys())) {
      const got = await reader.get("lww", key, { r: N });
      finals.set(key, got.kind === "value" ? got.value.toString("utf8") : got.kind === "siblings" ? `siblings:${got.siblings.length}` : undefined);
    }
    reader.close();
    const clockSpreadMs = spread.max - spread.min;
    const registerReports = registers.map((r) => r.check(finals, clockSpreadMs));
    // For a key that broke its promise, what each node holds tells how.
    for (const key of registerReports.flatMap((r) => r.violations.map((v) => v.slice(0, v.indexOf(":"))))) {
      for (const node of cluster.running()) {
        const copy = await cluster.localRecord(node.index, "lww", key).catch((e: Error) => e.message);
        timeline.note(`${key} on ${node.id}: ${JSON.stringify(copy)}`);
        log(`  ${key} on ${node.id}: ${JSON.stringify(copy)}`);
      }
    }

    const status = recorder.report();
    const violations: string[] = [];
    for (const lost of setReport.lost) violations.push(`set: acknowledged element ${lost} lost`);
    for (const r of registerReports) violations.push(...r.violations.map((v) => `lww ${r.mode} register: ${v}`));
    for (const r of rywReports) violations.push(...r.violations.map((v) => `read-your-writes (${r.strict ? "pr/pw" : "sloppy"}): ${v}`));
    violations.push(...status.violations.map((v) => `status: ${v}`));
    violations.push(...detection.map((v) => `failure detection: ${v}`));
    if (!convergence.converged) violations.push(`convergence: replicas still differ ${options.convergenceBoundMs / 1000} s after healing: ${convergence.diverged.slice(0, 5).join("; ")}`);
    if (bounds) violations.push(...bounds.violations.map((v) => `bounds: ${v}`));
    for (const v of violations) timeline.anomaly("final", v);

    log(`set (siblings): ${formatReport(setReport)}`);
    log(`set (lww): ${formatReport(lwwSetReport)} — lww loses concurrent writes by design`);
    for (const r of registerReports) {
      log(`lww ${r.mode} registers: ${r.acknowledged} acknowledged, ${r.failed} failed, lost to concurrent writes ${r.lostToConcurrentWrites}, within the clock spread (${clockSpreadMs} ms) ${r.lostWithinClockSpread}, violations ${r.violations.length}`);
    }
    for (const r of rywReports) log(`read-your-writes ${r.strict ? "(pr/pw)" : "(sloppy)"}: ${r.writes} writes, ${r.reads} reads, ${r.stale} stale, ${r.twins} twins`);
    log(`requests: ${status.requests}, failed ${status.failures} ${JSON.stringify(status.byCode)}, contract violations ${status.violations.length}`);

    report = {
      seed: options.seed,
      schedule: scheduleText,
      set: setReport,
      lwwSet: lwwSetReport,
      registers: registerReports,
      readYourWrites: rywReports,
      status,
      convergence,
      bounds,
      clockSpreadMs,
      violations,
      timeline: timeline.path,
      plot: join(options.outDir, "timeline.html"),
    };
    return report;
  } finally {
    stopped = true;
    sampler.stop();
    await driving;
    await cluster.destroy();
    await timeline.close();
    writeFileSync(join(options.outDir, "timeline.html"), renderTimeline(timeline.events, `seed ${options.seed}: ${options.durationMs / 1000} s of ${options.kinds.join(", ")}`));
    if (report) writeFileSync(join(options.outDir, "report.json"), JSON.stringify(report, null, 2));
    for (const node of cluster.nodes) {
      const text = cluster.nodeLog(node.index);
      if (text) writeFileSync(join(options.outDir, `${node.id}.log`), text);
    }
  }
}

/** The RingDriver, stepped every second as the operator would, until `stopped`. */
async function driveRing(cluster: NetCluster, desired: string[], timeline: Timeline, stopped: () => boolean): Promise<void> {
  const addresses = cluster.addresses(cluster.nodes.filter((n) => desired.includes(n.id)).map((n) => n.index));
  while (!stopped()) {
    try {
      const step = await cluster.driver.step(addresses, desired);
      if (step.action) timeline.note(`ring: ${step.action}`);
    } catch (err) {
      timeline.note(`ring driver: ${(err as Error).message}`);
    }
    for (let waited = 0; waited < 1000 && !stopped(); waited += 100) await sleep(100);
  }
}

async function runSchedule(
  cluster: NetCluster,
  schedule: FaultWindow[],
  timeline: Timeline,
  spread: { min: number; max: number },
  detection: string[],
  log: (line: string) => void,
): Promise<void> {
  const started = performance.now();
  let id = 0;
  for (const window of schedule) {
    const wait = window.startMs - (performance.now() - started);
    if (wait > 0) await sleep(wait);
    const ids = window.faults.map(() => ++id);
    for (const [i, fault] of window.faults.entries()) {
      timeline.fault("start", ids[i]!, fault.kind, describeFault(fault));
      if (fault.kind === "skew") {
        spread.min = Math.min(spread.min, fault.offsetMs);
        spread.max = Math.max(spread.max, fault.offsetMs);
      }
    }
    log(`${(timeline.now() / 1000).toFixed(1)}s fault: ${window.faults.map(describeFault).join(" & ")}`);
    try {
      await applyFaults(cluster, window.faults);
      await sleep(window.holdMs);
      detection.push(...(await checkDetection(cluster, window.faults, window.holdMs, timeline)));
    } finally {
      await healFaults(cluster, window.faults);
      for (const [i, fault] of window.faults.entries()) timeline.fault("end", ids[i]!, fault.kind, describeFault(fault));
    }
  }
}

/**
 * Cuts one node off for `longPartitionMs` under the running load and checks that the others' hint stores stay within
 * their configured bounds and their memory stays flat while hints pile up for it.
 */
async function longPartition(cluster: NetCluster, options: JepsenOptions, victim: number, timeline: Timeline, sampler: Sampler, log: (line: string) => void): Promise<BoundsReport> {
  const tuning = loadNodeConfig(JEPSEN_CONFIG).tuning;
  const others = cluster.nodes.slice(0, options.nodes).filter((n) => n.index !== victim);
  const name = `n${victim}`;
  log(`${(timeline.now() / 1000).toFixed(1)}s long partition: ${name} cut off for ${options.longPartitionMs / 1000} s or more`);
  const startAt = timeline.now();
  timeline.fault("start", 10_000, "long-partition", `${name} isolated`);
  await cluster.network.apply({ cuts: partitionCuts([[name], others.map((n) => n.host.name)], "drop"), links: {} });
  await sampler.sampleAll();
  // Writes to many distinct keys, so the hints gathered for the victim (one per key) reach the store's bound.
  let filling = true;
  let filled = 0;
  const writers = Array.from({ length: 4 }, async (_, w) => {
    const client = new DynamoClient(others[w % others.length]!.clientUrl, { timeoutMs: 5000 });
    for (let i = 0; filling; i++) {
      await client.put("sets", `fill-${w}-${i}`, "x".repeat(200), { w: 2 }).then(() => filled++, () => undefined);
      await sleep(20);
    }
    client.close();
  });
  // Held for the time asked and until three times hintsMax keys were written and a hint store refused a hint (on a
  // loaded machine that takes longer: 600 keys spread over four hint stores could leave each below its bound), so the
  // bound is reached whatever the machine's speed; at most four times the time asked.
  const victimId = cluster.node(victim).id;
  const refusedSince = new Map(sampler.samples.filter((s: Sample) => s.node !== victimId).map((s: Sample) => [s.node, s.hintsRefused]));
  const refused = () => sampler.samples.some((s: Sample) => s.t >= startAt && s.node !== victimId && s.hintsRefused > (refusedSince.get(s.node) ?? 0));
  const holdStarted = performance.now();
  while (performance.now() - holdStarted < 4 * options.longPartitionMs) {
    const elapsed = performance.now() - holdStarted;
    if (elapsed >= options.longPartitionMs && filled >= 3 * tuning.hintsMax && refused()) break;
    await sleep(250);
  }
  filling = false;
  await Promise.all(writers);
  await sampler.sampleAll();
  await cluster.network.heal();
  timeline.fault("end", 10_000, "long-partition", `${name} isolated`);
  const window = sampler.samples.filter((s: Sample) => s.t >= startAt && s.node !== cluster.node(victim).id);
  const byNode = new Map<string, Sample[]>();
  for (const s of window) byNode.set(s.node, [...(byNode.get(s.node) ?? []), s]);
  // The node that gathered the most hints is the one whose bounds matter most.
  const [node, series] = [...byNode].sort((a, b) => Math.max(...b[1].map((s) => s.hints)) - Math.max(...a[1].map((s) => s.hints)))[0]!;
  const report: BoundsReport = {
    node,
    hintsMax: Math.max(...series.map((s) => s.hints)),
    hintBytesMax: Math.max(...series.map((s) => s.hintBytes)),
    hintsRefused: series.at(-1)!.hintsRefused,
    rssStartBytes: series[0]!.rssBytes,
    rssMaxBytes: Math.max(...series.map((s) => s.rssBytes)),
    rssEndBytes: series.at(-1)!.rssBytes,
    violations: [],
  };
  if (report.hintsMax > tuning.hintsMax) report.violations.push(`${node} held ${report.hintsMax} hints, over hintsMax ${tuning.hintsMax}`);
  if (report.hintBytesMax > tuning.hintBytesMax) report.violations.push(`${node} held ${report.hintBytesMax} hint bytes, over hintBytesMax ${tuning.hintBytesMax}`);
  for (const [id, s] of byNode) {
    const growth = Math.max(...s.map((x) => x.rssBytes)) - s[0]!.rssBytes;
    if (growth > 96 * 1024 * 1024) report.violations.push(`${id}'s resident memory grew by ${(growth / 1048576).toFixed(0)} MiB during the partition`);
  }
  log(
    `long partition: ${filled} extra keys written; ${node} held at most ${report.hintsMax} hints (${(report.hintBytesMax / 1024).toFixed(0)} KiB; bound ${tuning.hintsMax}), refused ${report.hintsRefused}; ` +
      `RSS ${(report.rssStartBytes / 1048576).toFixed(0)} → max ${(report.rssMaxBytes / 1048576).toFixed(0)} MiB`,
  );
  return report;
}

async function healEverything(cluster: NetCluster, nodes: number): Promise<void> {
  await cluster.network.heal();
  for (const node of cluster.nodes.slice(0, nodes)) {
    cluster.clocks.set(node.host.name, 0);
    if (node.stopped) cluster.signal(node.index, "SIGCONT");
    if (!cluster.running().includes(node)) await cluster.startNode(node.index);
  }
}

export { FAULT_KINDS };
