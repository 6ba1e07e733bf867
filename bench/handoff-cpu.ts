/**
 * `node --import tsx bench/handoff-cpu.ts`: the CPU that one node spends per MB of a handoff page, on each side, with
 * the old and the new way measured alternately in one process on real LevelDB stores. CPU time (user + system of this
 * process, LevelDB's threads included) rather than wall time, so a machine loaded by others changes little.
 *
 * - receiver: merging pages of 1 KiB records into a replica that holds nothing, read-merge-re-encode per key (the
 *   path a page takes without the sender's stored bytes) against the bulk load of stored bytes;
 * - sender: reading a page with one iterator step per entry (`for await`, 16 KiB read-ahead) against runs sized to
 *   the page (`nextv`).
 *
 * Flags: --pages P (per round, default 40) --rounds R (default 4) --batch B (records per page, default 500)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { LocalReplica } from "../node/replication/index.js";
import { dataKey, parseDataKey, partitionRange, Store } from "../node/storage/index.js";
import { encodeRecord, HybridClock, update } from "../node/versioning/index.js";

const { values: flags } = parseArgs({
  options: { pages: { type: "string", default: "40" }, rounds: { type: "string", default: "4" }, batch: { type: "string", default: "500" } },
});
const PAGES = Number(flags.pages);
const ROUNDS = Number(flags.rounds);
const BATCH = Number(flags.batch);
const quiet = { siblingWarning: () => undefined, siblingRefusal: () => undefined, recordRefusal: () => undefined };
const limits = { siblingsWarn: 25, siblingsMax: 100, recordBytesMax: 1 << 20 };

function page(round: number, index: number) {
  const value = Buffer.alloc(1024, 97);
  return Array.from({ length: BATCH }, (_, i) => {
    const record = update(undefined, {}, { value, contentType: "application/octet-stream", timestamp: { ms: Date.now(), logical: 0 } }, "sender0actor0001");
    return { bucket: "default", key: Buffer.from(`user-${round}-${index}-${String(i).padStart(5, "0")}`), record, mode: "siblings" as const, encoded: encodeRecord(record) };
  });
}

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

async function receiver(bulk: boolean, round: number): Promise<{ ms: number; mb: number }> {
  const dir = mkdtempSync(join(tmpdir(), "dynamo-handoff-cpu-"));
  const store = new Store(dir);
  await store.open();
  const replica = new LocalReplica(store, new HybridClock(), limits, quiet);
  const pages = Array.from({ length: PAGES }, (_, i) => page(round, i));
  const mb = pages.reduce((sum, p) => sum + p.reduce((s, e) => s + e.key.length + e.encoded.length, 0), 0) / 1e6;
  const started = cpuMs();
  for (const p of pages) await replica.mergeMany(p.length % 7, bulk ? p : p.map(({ encoded: _encoded, ...rest }) => rest));
  const ms = cpuMs() - started;
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  return { ms, mb };
}

async function sender(store: Store, partition: number, runs: boolean): Promise<{ ms: number; mb: number }> {
  const started = cpuMs();
  let bytes = 0;
  if (runs) {
    let after: { bucket: string; key: Buffer } | undefined;
    for (;;) {
      const p = await store.scanPartitionRaw(partition, after, BATCH, 4 * 1024 * 1024);
      for (const e of p.entries) bytes += e.key.length + e.record.length;
      if (p.done) break;
      after = p.last;
    }
  } else {
    // The previous reader: one iterator step per entry, pages of BATCH.
    let gt: Buffer | undefined;
    for (;;) {
      const range = partitionRange(partition);
      const iterator = store.level.iterator({ ...(gt ? { gt, lt: range.lt } : range), limit: BATCH });
      let n = 0;
      for await (const [rawKey, rawValue] of iterator) {
        const parsed = parseDataKey(rawKey);
        bytes += parsed.key.length + rawValue.length;
        gt = dataKey(partition, parsed.bucket, parsed.key);
        n += 1;
      }
      if (n < BATCH) break;
    }
  }
  return { ms: cpuMs() - started, mb: bytes / 1e6 };
}

const rows: Record<string, { ms: number; mb: number }> = {};
const add = (name: string, r: { ms: number; mb: number }) => {
  const row = (rows[name] ??= { ms: 0, mb: 0 });
  row.ms += r.ms;
  row.mb += r.mb;
};
for (let round = 0; round < ROUNDS; round++) {
  // Alternate which goes first, so neither always runs on a warmer process.
  const order = round % 2 === 0 ? [false, true] : [true, false];
  for (const bulk of order) add(bulk ? "receiver: bulk load of stored bytes" : "receiver: read, merge, re-encode", await receiver(bulk, round));
}
{
  const dir = mkdtempSync(join(tmpdir(), "dynamo-handoff-cpu-"));
  const store = new Store(dir);
  await store.open();
  const replica = new LocalReplica(store, new HybridClock(), limits, quiet);
  for (let i = 0; i < PAGES; i++) await replica.mergeMany(3, page(0, i));
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? [false, true] : [true, false];
    for (const runs of order) add(runs ? "sender: runs sized to the page (nextv)" : "sender: one iterator step per entry", await sender(store, 3, runs));
  }
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}
process.stdout.write(`handoff CPU, ${ROUNDS} rounds of ${PAGES} pages of ${BATCH} 1 KiB records\n`);
for (const [name, r] of Object.entries(rows)) process.stdout.write(`  ${name.padEnd(42)} ${(r.ms / r.mb).toFixed(1).padStart(7)} ms CPU per MB (${r.mb.toFixed(0)} MB)\n`);
