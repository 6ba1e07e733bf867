/**
 * Turning run results into what a person reads (a line per run as it finishes, a final comparison table) and what a
 * later run is compared with (a JSON document under .bench/).
 */
import { median } from "../stats.js";
import type { OperationResult, RunResult } from "./runner.js";

export interface ComparisonRow {
  phase: string;
  workload: string;
  operation: string;
  store: OperationResult;
  floor: OperationResult | undefined;
  /** store ops/s divided by floor ops/s; undefined without a floor. */
  ratio: number | undefined;
  /**
   * With several rounds (`--rounds`), each round's ratio in order; the row's store, floor and ratio are then those of
   * the round with the median ratio.
   */
  roundRatios?: number[];
  /**
   * With several rounds and no floor (`--skip-floor`), each round's store throughput in order; the row is then the
   * round with the median throughput.
   */
  roundOpsPerSec?: number[];
}

export function compare(phase: string, store: RunResult, floor: RunResult | undefined): ComparisonRow[] {
  return store.operations.map((storeOp) => {
    const floorOp = floor?.operations.find((op) => op.operation === storeOp.operation);
    const ratio = floorOp !== undefined && floorOp.opsPerSec > 0 ? storeOp.opsPerSec / floorOp.opsPerSec : undefined;
    return { phase, workload: store.workload, operation: storeOp.operation, store: storeOp, floor: floorOp, ratio };
  });
}

/**
 * The rows of a workload measured in several rounds, one per operation: each the round whose throughput ratio is the
 * median (the lower middle one for an even count), so store, floor and ratio in a row come from one round, with every
 * round's ratio beside them. Without a floor there is no ratio, and the round with the median store throughput stands
 * for the workload, so that a phase set against healthy compares the middle rounds of both, not their first ones. One
 * round gives `compare`'s rows.
 */
export function compareRounds(phase: string, rounds: readonly { store: RunResult; floor: RunResult | undefined }[]): ComparisonRow[] {
  const perRound = rounds.map((r) => compare(phase, r.store, r.floor));
  if (perRound.length <= 1) return perRound[0] ?? [];
  return perRound[0]!.map((_, i) => {
    const rows = perRound.map((rowsOfRound) => rowsOfRound[i]!);
    const ratios = rows.map((r) => r.ratio);
    const byRatio = ratios.every((r) => r !== undefined);
    const rank = (row: ComparisonRow): number => (byRatio ? row.ratio! : row.store.opsPerSec);
    const middle = [...rows].sort((a, b) => rank(a) - rank(b))[Math.floor((rows.length - 1) / 2)]!;
    return byRatio ? { ...middle, roundRatios: ratios as number[] } : { ...middle, roundOpsPerSec: rows.map((r) => r.store.opsPerSec) };
  });
}

/** Server CPU per operation over several rounds of one workload: the median of each side's. */
export function cpuOfRounds(phase: string, workload: string, rounds: readonly { store: RunResult; floor: RunResult | undefined }[]): CpuRow {
  const side = (values: (number | undefined)[]): number | undefined => {
    const known = values.filter((v): v is number => v !== undefined);
    return known.length === 0 ? undefined : median(known);
  };
  return { phase, workload, store: side(rounds.map((r) => r.store.serverCpuMsPerOperation)), floor: side(rounds.map((r) => r.floor?.serverCpuMsPerOperation)) };
}

export function formatMs(us: number): string {
  const ms = us / 1000;
  return ms < 10 ? ms.toFixed(2) : ms < 100 ? ms.toFixed(1) : ms.toFixed(0);
}

function errorCount(result: OperationResult): number {
  return Object.values(result.errors).reduce((sum, n) => sum + n, 0);
}

function describeErrors(result: OperationResult): string {
  const entries = Object.entries(result.errors);
  return entries.length === 0 ? "0" : entries.map(([code, n]) => `${code}=${n}`).join(",");
}

/** One line per operation of a finished run: throughput, p50/p99/p99.9 latency in ms, and errors. */
export function runLines(label: string, result: RunResult): string[] {
  return result.operations.map((op) => {
    const l = op.latency;
    return (
      `${label.padEnd(16)} ${result.workload.padEnd(4)} ${op.operation.padEnd(6)} ${op.opsPerSec.toFixed(0).padStart(7)} ops/s` +
      `  p50 ${formatMs(l.p50Us)}  p99 ${formatMs(l.p99Us)}  p99.9 ${formatMs(l.p999Us)} ms  errors ${describeErrors(op)}`
    );
  });
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((row) => row[col]!.length)));
  return rows.map((row) => row.map((cell, col) => (col < 2 ? cell.padEnd(widths[col]!) : cell.padStart(widths[col]!))).join("  ")).join("\n");
}

/**
 * The final table, one block per phase. Latencies in milliseconds; errors are the store's. With several rounds, a row
 * is the round with the median ratio and the last column lists every round's; without a floor, the round with the
 * median throughput and every round's throughput.
 */
export function comparisonTable(rows: ComparisonRow[]): string {
  const blocks: string[] = [];
  const withRatios = rows.some((r) => r.roundRatios !== undefined);
  const withRounds = withRatios || rows.some((r) => r.roundOpsPerSec !== undefined);
  const perRound = (r: ComparisonRow): string =>
    r.roundRatios?.map((ratio) => ratio.toFixed(2)).join(" ") ?? r.roundOpsPerSec?.map((ops) => ops.toFixed(0)).join(" ") ?? "-";
  for (const phase of [...new Set(rows.map((r) => r.phase))]) {
    const header = ["workload", "op", "store ops/s", "floor ops/s", withRatios ? "median ratio" : "ratio", "p99 store", "p99 floor", "store errors"];
    if (withRounds) header.push(withRatios ? "ratio per round" : "store ops/s per round");
    const body = rows
      .filter((r) => r.phase === phase)
      .map((r) => [
        r.workload,
        r.operation,
        r.store.opsPerSec.toFixed(0),
        r.floor === undefined ? "-" : r.floor.opsPerSec.toFixed(0),
        r.ratio === undefined ? "-" : r.ratio.toFixed(2),
        `${formatMs(r.store.latency.p99Us)} ms`,
        r.floor === undefined ? "-" : `${formatMs(r.floor.latency.p99Us)} ms`,
        String(errorCount(r.store)),
        ...(withRounds ? [perRound(r)] : []),
      ]);
    blocks.push(`phase ${phase}\n${table([header, ...body])}`);
  }
  return blocks.join("\n\n");
}

/** Server CPU per operation of one workload's runs (all its operations together), store and baseline. */
export interface CpuRow {
  phase: string;
  workload: string;
  /** Milliseconds of CPU, all the side's processes together, per operation completed in the measured window. */
  store: number | undefined;
  floor: number | undefined;
}

/** The line logged after a run's throughput lines, when its processes' CPU was measured. */
export function cpuLine(label: string, result: RunResult): string[] {
  const ms = result.serverCpuMsPerOperation;
  return ms === undefined ? [] : [`${label.padEnd(16)} ${result.workload.padEnd(4)} server CPU ${ms.toFixed(3)} ms per operation`];
}

/**
 * The CPU each side spent per operation, and the store's as a multiple of the baseline's: how much more work an
 * operation is for the store than for moving its messages. It depends less than the throughput ratio on how much of
 * the machine a run got, though work competing for the cores raises both sides' CPU per operation too.
 */
export function cpuTable(rows: CpuRow[]): string {
  const measured = rows.filter((r) => r.store !== undefined || r.floor !== undefined);
  if (measured.length === 0) return "";
  const header = ["phase", "workload", "store CPU ms/op", "floor CPU ms/op", "store / floor"];
  const body = measured.map((r) => [
    r.phase,
    r.workload,
    r.store === undefined ? "-" : r.store.toFixed(3),
    r.floor === undefined ? "-" : r.floor.toFixed(3),
    r.store !== undefined && r.floor !== undefined && r.floor > 0 ? `${(r.store / r.floor).toFixed(2)}x` : "-",
  ]);
  return `server CPU per operation, every process of each side\n${table([header, ...body])}`;
}

/**
 * Every phase other than `healthy` against `healthy`, operation by operation: throughput and p99 as ratios, so "one
 * node down" reads as a fraction of what the same cluster did healthy a moment earlier.
 */
export function phaseComparison(rows: ComparisonRow[]): string {
  const baseline = rows.filter((r) => r.phase === "healthy");
  const others = rows.filter((r) => r.phase !== "healthy" && r.phase !== "load");
  if (baseline.length === 0 || others.length === 0) return "";
  const header = ["phase", "workload op", "ops/s", "vs healthy", "p99", "vs healthy"];
  const body: string[][] = [];
  for (const r of others) {
    const base = baseline.find((b) => b.workload === r.workload && b.operation === r.operation);
    if (!base) continue;
    body.push([
      r.phase,
      `${r.workload} ${r.operation}`,
      r.store.opsPerSec.toFixed(0),
      base.store.opsPerSec > 0 ? (r.store.opsPerSec / base.store.opsPerSec).toFixed(2) : "-",
      `${formatMs(r.store.latency.p99Us)} ms`,
      base.store.latency.p99Us > 0 ? (r.store.latency.p99Us / base.store.latency.p99Us).toFixed(2) : "-",
    ]);
  }
  return body.length === 0 ? "" : `store under each phase, relative to healthy in this run\n${table([header, ...body])}`;
}
