/**
 * Results of `npm run bench:peers`, and the Markdown a person reads: one table per workload and phase with a row per
 * round and system, so drift between rounds on a shared machine stays visible, each row with its throughput and CPU
 * cost as ratios to the store measured in the same round. Pure functions of the measurements.
 */
import { formatMs } from "../ycsb/report.js";
import type { OperationResult, RunResult } from "../ycsb/runner.js";
import { WORKLOADS, type WorkloadName } from "../ycsb/workloads.js";
import type { WarmupSlice } from "./warmup.js";

export type Phase = "healthy" | "one-down";

export interface CpuFigures {
  /** Wall-clock length of the measured window. */
  seconds: number;
  /** CPU time of all the system's processes in the window. */
  serverCpuSeconds: number;
  /** CPU time of the harness process (the clients) in the window. */
  driverCpuSeconds: number;
}

export interface Measurement {
  round: number;
  /** Row label: the system, or a way of driving it (`etcd-serializable`). */
  variant: string;
  system: string;
  phase: Phase;
  /** `load` for the insert phase, else the YCSB workload. */
  workload: string;
  /** One-minute load average when the measurement started. */
  loadAverage: number;
  result: RunResult;
  cpu: CpuFigures;
  serverCpuMsPerOp: number | undefined;
  driverCpuMsPerOp: number | undefined;
}

/** The unmeasured warm-up of one system in one round, slice by slice. */
export interface Warmup {
  round: number;
  system: string;
  slices: WarmupSlice[];
}

export interface SystemInfo {
  name: string;
  version: string;
  setup: string;
  durability: string;
}

export interface PeersReport {
  startedAt: string;
  finishedAt: string;
  seed: number;
  command: string;
  options: {
    systems: string[];
    workloads: string[];
    rounds: number;
    clients: number;
    seconds: number;
    warmupSeconds: number;
    systemWarmupSeconds: number;
    records: number;
    valueBytes: number;
    downOne: boolean;
    durable: boolean;
    /** `--runtime`: the Node.js the store's processes ran (the systems' versions say which release). */
    runtime: string;
  };
  machine: { cpus: number; cpuModel: string; memoryGiB: number; loadAverage: number[]; node: string; platform: string };
  systems: SystemInfo[];
  /** The row every other row is compared with. */
  baseline: string;
  measurements: Measurement[];
  warmups: Warmup[];
  /** Things not measured, and why (e.g. Redis under --down-one). */
  notes: string[];
}

/** value / baseline, or undefined when either is missing or the baseline is zero. */
export function ratio(value: number | undefined, baseline: number | undefined): number | undefined {
  if (value === undefined || baseline === undefined || baseline === 0) return undefined;
  return value / baseline;
}

/** The measurement `m` is compared with: the baseline row of the same round, phase and workload. */
export function baselineOf(measurements: readonly Measurement[], m: Measurement, baseline: string): Measurement | undefined {
  return measurements.find((b) => b.variant === baseline && b.round === m.round && b.phase === m.phase && b.workload === m.workload);
}

/** The same row measured healthy in the same round, for a row measured with one node down. */
export function healthyOf(measurements: readonly Measurement[], m: Measurement): Measurement | undefined {
  return measurements.find((h) => h.phase === "healthy" && h.variant === m.variant && h.round === m.round && h.workload === m.workload);
}

export function describeErrors(result: OperationResult): string {
  const entries = Object.entries(result.errors).sort(([a], [b]) => a.localeCompare(b));
  return entries.length === 0 ? "0" : entries.map(([kind, n]) => `${kind}=${n}`).join(", ");
}

/** Two decimals, or two significant digits for small values, so Redis's 0.0058 does not print as 0.01 or 0.00. */
export function formatSmall(value: number | undefined): string {
  if (value === undefined) return "-";
  return value >= 0.1 || value === 0 ? value.toFixed(2) : value.toPrecision(2);
}

/** CPU per operation in ms: three decimals, or two significant digits below 0.01. */
export function formatCpuMs(value: number | undefined): string {
  if (value === undefined) return "-";
  return value >= 0.01 || value === 0 ? value.toFixed(3) : value.toPrecision(2);
}

function times(value: number | undefined): string {
  return value === undefined ? "-" : `${formatSmall(value)}×`;
}

/** Ops/s without decimals and with thin grouping, as the tables print them. */
export function formatOps(opsPerSec: number): string {
  return Math.round(opsPerSec).toLocaleString("en-US");
}

/** One line per finished measurement, for the console while the run goes on. */
export function measurementLine(m: Measurement): string {
  const total = m.result.total;
  const l = total.latency;
  return (
    `[round ${m.round} ${m.phase}] ${m.variant.padEnd(17)} ${m.workload.padEnd(4)} ${formatOps(total.opsPerSec).padStart(7)} ops/s` +
    `  p50 ${formatMs(l.p50Us)}  p99 ${formatMs(l.p99Us)}  p99.9 ${formatMs(l.p999Us)} ms  errors ${describeErrors(total)}` +
    `  server CPU ${formatCpuMs(m.serverCpuMsPerOp)} ms/op  driver CPU ${formatCpuMs(m.driverCpuMsPerOp)} ms/op`
  );
}

/** How long a system was warmed up, and its server CPU per operation in each slice, e.g. `40 s: 1.39 0.84 0.45 0.44`. */
export function describeWarmup(warmup: Warmup): string {
  const seconds = warmup.slices.reduce((sum, slice) => sum + slice.seconds, 0);
  return `${seconds} s: ${warmup.slices.map((slice) => formatCpuMs(slice.serverCpuMsPerOp)).join(" ")}`;
}

export function warmupLine(warmup: Warmup): string {
  return `[round ${warmup.round} warm-up] ${warmup.system}: YCSB-A unmeasured for ${describeWarmup(warmup)} ms of server CPU per operation`;
}

function markdownTable(header: string[], rows: string[][], rightAligned: (col: number) => boolean): string {
  const align = header.map((_, col) => (rightAligned(col) ? "---:" : "---"));
  return [header, align, ...rows].map((row) => `| ${row.join(" | ")} |`).join("\n");
}

function workloadTitle(workload: string, records: number): string {
  if (workload === "load") return `Load: ${records.toLocaleString("en-US")} blind inserts`;
  const known = WORKLOADS[workload as WorkloadName];
  return known ? `YCSB-${workload} (${known.description})` : workload;
}

/** The table of one workload in one phase: a row per round and variant. */
export function workloadTable(report: PeersReport, phase: Phase, workload: string): string {
  const rows = report.measurements.filter((m) => m.phase === phase && m.workload === workload);
  const oneDown = phase === "one-down";
  const header = [
    "round",
    "system",
    "ops/s",
    `vs ${report.baseline}`,
    ...(oneDown ? ["vs healthy"] : []),
    "p50 ms",
    "p99 ms",
    "p99.9 ms",
    "errors",
    "server CPU ms/op",
    `vs ${report.baseline}`,
    "driver CPU ms/op",
    "load avg",
  ];
  const body = rows.map((m) => {
    const base = baselineOf(report.measurements, m, report.baseline);
    const l = m.result.total.latency;
    return [
      String(m.round),
      m.variant,
      formatOps(m.result.total.opsPerSec),
      times(ratio(m.result.total.opsPerSec, base?.result.total.opsPerSec)),
      ...(oneDown ? [times(ratio(m.result.total.opsPerSec, healthyOf(report.measurements, m)?.result.total.opsPerSec))] : []),
      formatMs(l.p50Us),
      formatMs(l.p99Us),
      formatMs(l.p999Us),
      describeErrors(m.result.total),
      formatCpuMs(m.serverCpuMsPerOp),
      times(ratio(m.serverCpuMsPerOp, base?.serverCpuMsPerOp)),
      formatCpuMs(m.driverCpuMsPerOp),
      m.loadAverage.toFixed(1),
    ];
  });
  const textColumns = new Set([0, 1]);
  return `### ${workloadTitle(workload, report.options.records)}${oneDown ? ", one node down" : ""}\n\n${markdownTable(header, body, (col) => !textColumns.has(col))}`;
}

/** The last round at a glance: ops/s per workload with the ratio to the baseline, and p99. */
export function summaryTable(report: PeersReport): string {
  const lastRound = Math.max(...report.measurements.map((m) => m.round));
  const workloads = report.options.workloads;
  const variants = [...new Set(report.measurements.map((m) => m.variant))];
  const header = ["system", ...workloads.flatMap((w) => [`${w} ops/s`, `${w} p99 ms`, `${w} server CPU ms/op`])];
  const body = variants.map((variant) => [
    variant,
    ...workloads.flatMap((workload) => {
      const m = report.measurements.find((x) => x.variant === variant && x.round === lastRound && x.phase === "healthy" && x.workload === workload);
      if (!m) return ["-", "-", "-"];
      const base = baselineOf(report.measurements, m, report.baseline);
      const r = ratio(m.result.total.opsPerSec, base?.result.total.opsPerSec);
      return [
        `${formatOps(m.result.total.opsPerSec)}${variant === report.baseline || r === undefined ? "" : ` (${times(r)})`}`,
        formatMs(m.result.total.latency.p99Us),
        formatCpuMs(m.serverCpuMsPerOp),
      ];
    }),
  ]);
  return `Round ${lastRound} of ${report.options.rounds}, every node up (ratios to ${report.baseline} in parentheses):\n\n${markdownTable(header, body, (col) => col > 0)}`;
}

export function systemsTable(report: PeersReport): string {
  const body = report.systems.map((s) => [s.name, s.version, s.setup, s.durability]);
  return markdownTable(["system", "version", "setup", "durability"], body, () => false);
}

export function markdownReport(report: PeersReport): string {
  const o = report.options;
  const load = report.machine.loadAverage.map((l) => l.toFixed(2)).join(" ");
  const lines = [
    `## bench:peers ${report.startedAt}`,
    "",
    `\`${report.command}\` — ${o.clients} closed-loop clients, ${o.seconds} s measured after ${o.warmupSeconds} s warm-up per workload ` +
      `(each system warmed up after its load, see below), ` +
      `${o.records.toLocaleString("en-US")} records of ${o.valueBytes} bytes, scrambled zipfian keys, seed ${report.seed}, ${o.rounds} round${o.rounds === 1 ? "" : "s"}` +
      `${o.durable ? ", durable mode (every write fsynced)" : ""}${o.downOne ? ", with one node down" : ""}.`,
    "",
    `Machine: ${report.machine.cpus} × ${report.machine.cpuModel}, ${report.machine.memoryGiB} GiB, ${report.machine.platform}, Node ${report.machine.node}; ` +
      `load average ${load} (1, 5, 15 min) at the start, and the 1-minute figure at the start of each measurement in the tables.`,
    "",
    systemsTable(report),
    "",
    summaryTable(report),
  ];
  const phases: Phase[] = o.downOne ? ["healthy", "one-down"] : ["healthy"];
  for (const phase of phases) {
    for (const workload of ["load", ...o.workloads]) {
      if (phase === "one-down" && workload === "load") continue;
      if (!report.measurements.some((m) => m.phase === phase && m.workload === workload)) continue;
      lines.push("", workloadTable(report, phase, workload));
    }
  }
  if (report.warmups.length > 0) {
    lines.push(
      "",
      "Warm-up before the measurements (unmeasured YCSB-A in 10 s slices until server CPU per operation stops falling; " +
        "the figures are ms of server CPU per operation in each slice):",
      "",
      ...report.warmups.map((w) => `- round ${w.round}, ${w.system}: ${describeWarmup(w)}`),
    );
  }
  if (report.notes.length > 0) lines.push("", ...report.notes.map((note) => `- ${note}`));
  lines.push(
    "",
    `ops/s counts operations that completed in the measured window (an update is one operation, two requests for store-rmw); ` +
      `latencies are of whole operations; server CPU is the CPU time of all the system's processes over the window divided ` +
      `by those operations, driver CPU the same for the benchmark process.`,
    "",
  );
  return lines.join("\n");
}
