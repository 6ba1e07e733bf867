/**
 * `npm run bench:backup`: what a backup costs the clients. Loads K keys of 1 KiB (default 50 000) into a local 3-node
 * cluster, runs a YCSB-A load (50% reads, 50% read-modify-write updates, scrambled zipfian keys) throughout, and
 * measures the clients' p99 in windows: with no backup, during a backup at a records limit the backup actually hits
 * (`--records-per-second`, below what it reads unlimited, so the limiter is what binds), with no backup again, during
 * a backup at the default limits, with no backup again, and during a backup with no limit. Prints each window's
 * p50/p99, the ratio to the no-backup window before it, and each backup's duration and throughput (the records it
 * scanned per second, summed over the replicas as the limiter counts them, next to the limit).
 * Flags: --keys K --clients C --window-seconds S --seed N --store file|s3 (s3: a local versitygw server, built by
 * `npm run versitygw:build`, over loopback; file: a temporary directory) --records-per-second R (default 1500).
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_BACKUP } from "../backup/index.js";
import { DynamoClient } from "../client/index.js";
import { BenchCommandLine } from "./flags.js";
import { ClosedLoad } from "./ycsb/closed-load.js";
import { seededRandom } from "../lib/random.js";
import { formatMs } from "./ycsb/report.js";
import { DYNAMO_CLI } from "../lib/local-cluster.js";
import { startDevCluster } from "./ycsb/store.js";
import { S3Server } from "../lib/local-s3.js";

const USAGE = `usage: npm run bench:backup -- [flags]
  --keys K                  keys of 1 KiB loaded first                                   [50000]
  --clients C               YCSB-A clients throughout                                    [8]
  --window-seconds S        seconds of each window without a backup                     [20]
  --seed N                  seed of keys and operations                                  [random]
  --store file|s3           where backups go (s3: a local versitygw over loopback)       [file]
  --records-per-second R    the limit of the limited backup, below what it reads unlimited [1500]`;

const commandLine = new BenchCommandLine("bench:backup", USAGE, {
  keys: { type: "string" },
  clients: { type: "string" },
  "window-seconds": { type: "string" },
  seed: { type: "string" },
  store: { type: "string", default: "file" },
  "records-per-second": { type: "string" },
});
const flags = commandLine.values;
const KEYS = commandLine.number(flags.keys, "keys", 50_000, 1);
const CLIENTS = commandLine.number(flags.clients, "clients", 8, 1);
const WINDOW_S = commandLine.number(flags["window-seconds"], "window-seconds", 20, 1);
const BINDING_RECORDS = commandLine.number(flags["records-per-second"], "records-per-second", 1500, 1);
const SEED = commandLine.number(flags.seed, "seed", Math.floor(Math.random() * 2 ** 31), 0);
const log = (line: string) => process.stdout.write(line + "\n");
const loadAverage = () => loadavg().map((l) => l.toFixed(1)).join(" ");
commandLine.checked(() => {
  if (flags.store !== "file" && flags.store !== "s3") throw new Error(`--store must be file or s3, got '${flags.store}'`);
});

/** Where the backups go: the location, and the CLI flags and environment variables that reach it. */
interface Target {
  location: string;
  flags: string[];
  env: Record<string, string>;
}

const sleep = (s: number) => new Promise((r) => setTimeout(r, s * 1000));

/** Runs `dynamo backup create`: the window lasts as long as the backup. */
async function backupWindow(dataDir: string, target: Target, rateFlags: string[]): Promise<{ seconds: number; records: number; scanned: number; bytes: number; storedBytes: number }> {
  const started = Date.now();
  const args = [DYNAMO_CLI, "backup", "create", "--to", target.location, "--data-dir", dataDir, "--json", ...target.flags, ...rateFlags];
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...target.env } });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const [code] = (await once(child, "exit")) as [number];
  if (code !== 0) throw new Error(`dynamo backup create failed (${code}): ${stderr}`);
  const seconds = (Date.now() - started) / 1000;
  const result = JSON.parse(stdout) as { totals: { records: number; rawBytes: number; bytes: number } };
  // The limiter counts every replica's copy of a record; the bench's keys are all at n = 3.
  return { seconds, records: result.totals.records, scanned: result.totals.records * 3, bytes: result.totals.rawBytes, storedBytes: result.totals.bytes };
}

async function main(): Promise<void> {
  log(`bench:backup: ${KEYS} keys of 1 KiB, ${CLIENTS} YCSB-A clients, ${WINDOW_S} s baseline windows, backups to ${flags.store}, seed ${SEED}`);
  log(`load average at the start: ${loadAverage()}`);
  const s3 = flags.store === "s3" ? await S3Server.start(["dynamo-bench"]) : undefined;
  const store = s3 ? undefined : mkdtempSync(join(tmpdir(), "dynamo-bench-backup-"));
  const target: Target = s3
    ? { location: "s3://dynamo-bench/backups", flags: ["--s3-endpoint", s3.endpoint, "--s3-path-style"], env: s3.env }
    : { location: `file://${store}`, flags: [], env: {} };
  const cluster = await startDevCluster({ nodes: 3, log });
  const client = new DynamoClient(cluster.urls, { maxSockets: 64, timeoutMs: 30_000 });
  try {
    const value = Buffer.alloc(1024, 97);
    let next = 0;
    const loadStarted = Date.now();
    await Promise.all(Array.from({ length: 64 }, async () => {
      while (next < KEYS) await client.put("default", `user${next++}`, value);
    }));
    log(`loaded ${KEYS} keys in ${((Date.now() - loadStarted) / 1000).toFixed(1)} s`);
    const load = new ClosedLoad(client, seededRandom(SEED), KEYS, CLIENTS);
    load.start();
    await sleep(5);
    load.cut();
    const rows: Record<string, unknown>[] = [];
    const windows: [string, string[] | undefined][] = [
      ["no backup", undefined],
      [`backup at a binding limit (${BINDING_RECORDS} records/s)`, ["--records-per-second", String(BINDING_RECORDS)]],
      ["no backup", undefined],
      [`backup at the default limit (${DEFAULT_BACKUP.bytesPerSecond} B/s, ${DEFAULT_BACKUP.recordsPerSecond} records/s)`, []],
      ["no backup", undefined],
      ["backup without a limit", ["--bytes-per-second", "0", "--records-per-second", "0"]],
    ];
    let baselineP99 = 0;
    for (const [name, rateFlags] of windows) {
      let backup: Awaited<ReturnType<typeof backupWindow>> | undefined;
      if (rateFlags === undefined) await sleep(WINDOW_S);
      else backup = await backupWindow(cluster.dataDir!, target, rateFlags);
      const summary = load.cut().summary();
      if (rateFlags === undefined) baselineP99 = summary.p99Us;
      const row = {
        window: name,
        operations: summary.count,
        p50Ms: summary.p50Us / 1000,
        p99Ms: summary.p99Us / 1000,
        p99Ratio: rateFlags === undefined ? 1 : summary.p99Us / baselineP99,
        backupSeconds: backup?.seconds,
        backupRecordsPerSecond: backup ? Math.round(backup.records / backup.seconds) : undefined,
        backupScannedPerSecond: backup ? Math.round(backup.scanned / backup.seconds) : undefined,
        backupMBps: backup ? backup.bytes / 1e6 / backup.seconds : undefined,
        backupStoredBytes: backup?.storedBytes,
        loadAverage: loadAverage(),
      };
      rows.push(row);
      log(
        `  ${name}: ${summary.count} ops, p50 ${formatMs(summary.p50Us)} ms, p99 ${formatMs(summary.p99Us)} ms` +
          (backup ? ` (${row.p99Ratio.toFixed(2)}x the window before); backup of ${backup.records} records took ${backup.seconds.toFixed(1)} s, ${row.backupRecordsPerSecond} records/s (${row.backupScannedPerSecond} scanned/s over the replicas), ${backup.storedBytes} bytes stored` : "") +
          `; load average ${row.loadAverage}`,
      );
    }
    await load.stop();
    log(`client errors during the run: ${load.errors}`);
    process.stdout.write(JSON.stringify({ keys: KEYS, clients: CLIENTS, seed: SEED, windows: rows }, null, 2) + "\n");
  } finally {
    client.close();
    await cluster.stop();
    await s3?.stop();
    if (store) rmSync(store, { recursive: true, force: true });
  }
}

await main();
