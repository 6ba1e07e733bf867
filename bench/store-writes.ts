/**
 * `node --import tsx bench/store-writes.ts`: the CPU and the latency of one record write on a real LevelDB store,
 * with `concurrency` writers always in flight (as a node's clients and peers keep them), one LevelDB `put` per record
 * (how the store wrote before; also below abstract-level's per-call checks) against the store's write queue (one batch per event-loop turn), measured alternately
 * in one process. CPU time (user + system of this process, LevelDB's threads included) rather than wall time, so a
 * machine loaded by others changes it little; latency is wall time and is not.
 *
 * Flags: --writes N (per round, default 20000) --rounds R (default 4) --concurrency C (default 32, repeatable as a
 * comma list) --sync (fsync each write or batch, as `tuning.syncWrites` does)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { dataKey, Store } from "../node/storage/index.js";
import { encodeRecord, update } from "../node/versioning/index.js";
import { median } from "./stats.js";

const { values: flags } = parseArgs({
  options: {
    writes: { type: "string", default: "20000" },
    rounds: { type: "string", default: "4" },
    concurrency: { type: "string", default: "32" },
    sync: { type: "boolean", default: false },
  },
});
const WRITES = Number(flags.writes);
const ROUNDS = Number(flags.rounds);
const value = Buffer.alloc(1024, 97);

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

function record(n: number) {
  return update(undefined, {}, { value, contentType: "application/octet-stream", timestamp: { ms: n, logical: 0 } }, "writer0actor0001");
}

/** `put`: abstract-level's public put; `raw`: the binding's put below abstract-level's checks; `queue`: the store. */
type Way = "put" | "raw" | "queue";
const WAYS: Way[] = ["put", "raw", "queue"];
const LABEL: Record<Way, string> = { put: "one put per record      ", raw: "one raw _put per record ", queue: "write queue (the store) " };

async function round(store: Store, way: Way, concurrency: number, offset: number): Promise<{ cpuUs: number; p50: number; p99: number }> {
  let next = 0;
  const latencies: number[] = [];
  const db = store.level;
  const options = { sync: flags.sync };
  const writer = async () => {
    for (;;) {
      const n = next++;
      if (n >= WRITES) return;
      const key = Buffer.from(`user${String((offset + n) % 50_000).padStart(6, "0")}`);
      const r = record(n);
      const started = performance.now();
      if (way === "put") await db.put(dataKey(n % 256, "default", key), encodeRecord(r), options);
      else if (way === "raw") await (db as unknown as { _put(k: Buffer, v: Buffer, o: object): Promise<void> })._put(dataKey(n % 256, "default", key), encodeRecord(r), options);
      else await store.put(n % 256, "default", key, r);
      latencies.push(performance.now() - started);
    }
  };
  const before = cpuMs();
  await Promise.all(Array.from({ length: concurrency }, writer));
  const cpu = cpuMs() - before;
  latencies.sort((a, b) => a - b);
  return { cpuUs: (cpu * 1000) / WRITES, p50: latencies[Math.floor(latencies.length / 2)]!, p99: latencies[Math.floor(latencies.length * 0.99)]! };
}

const dir = mkdtempSync(join(tmpdir(), "dynamo-store-writes-"));
try {
  const store = new Store(dir, { syncWrites: flags.sync, cacheBytesMax: 1 << 20 });
  await store.open();
  for (const concurrency of flags.concurrency.split(",").map(Number)) {
    const before = store.writeStats();
    const results: Record<Way, { cpuUs: number; p50: number; p99: number }[]> = { put: [], raw: [], queue: [] };
    for (let r = 0; r < ROUNDS; r++) {
      for (const way of r % 2 === 0 ? WAYS : [...WAYS].reverse()) results[way].push(await round(store, way, concurrency, r * WRITES));
    }
    const after = store.writeStats();
    for (const way of WAYS) {
      const rs = results[way];
      console.log(
        `concurrency ${concurrency}, ${LABEL[way]}: CPU ${median(rs.map((x) => x.cpuUs)).toFixed(1)} µs/write ` +
          `(rounds ${rs.map((x) => x.cpuUs.toFixed(1)).join(", ")}), latency p50 ${median(rs.map((x) => x.p50)).toFixed(2)} ms p99 ${median(rs.map((x) => x.p99)).toFixed(2)} ms`,
      );
    }
    console.log(`  write queue: ${((after.operations - before.operations) / Math.max(1, after.batches - before.batches)).toFixed(1)} writes per batch`);
  }
  await store.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
