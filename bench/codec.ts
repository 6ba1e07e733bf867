/**
 * Micro-benchmark of the binary record codec, which every read and write passes through on disk and on the peer
 * protocol. Prints encode and decode throughput for 1 KiB and 64 KiB values with one and five siblings, so a change
 * to the codec can be judged by numbers: encode, decode (copying values, and as views the way a read decodes) and the
 * check a streamed page's records get. Run with `node --import tsx bench/codec.ts`; `BENCH_MS` sets the time per
 * case (default 1000 ms).
 */
import { checkRecord, decodeRecord, encodeRecord, update, type VersionedRecord } from "../node/versioning/index.js";

const caseMs = Number(process.env.BENCH_MS ?? 1000);

/** A record like the ones blind writes from several coordinators produce: `siblings` values of `valueBytes` each. */
function recordWith(valueBytes: number, siblings: number): VersionedRecord {
  let record: VersionedRecord | undefined;
  for (let index = 0; index < siblings; index++) {
    const value = Buffer.alloc(valueBytes, index + 1);
    const write = { value, contentType: "application/json", timestamp: { ms: Date.now(), logical: index } };
    record = update(record, {}, write, `node-${index}-8f3a1c92d4e7b605`);
  }
  return record as VersionedRecord;
}

/**
 * Runs `operation` repeatedly for about `caseMs` and returns operations per CPU-second of this process: CPU time, not
 * wall time, so that other work on a shared machine taking the core away does not count against the codec.
 */
function measure(operation: () => unknown): number {
  for (let warmup = 0; warmup < 200; warmup++) operation();
  let operations = 0;
  const cpuBefore = process.cpuUsage();
  const deadline = process.hrtime.bigint() + BigInt(caseMs) * 1_000_000n;
  while (process.hrtime.bigint() < deadline) {
    for (let batch = 0; batch < 50; batch++) operation();
    operations += 50;
  }
  const cpu = process.cpuUsage(cpuBefore);
  return operations / ((cpu.user + cpu.system) / 1e6);
}

function row(label: string, opsPerSecond: number, bytes: number): string {
  const mbPerSecond = (opsPerSecond * bytes) / (1024 * 1024);
  return `${label.padEnd(34)} ${Math.round(opsPerSecond).toLocaleString("en-US").padStart(12)} ops/s ${mbPerSecond
    .toFixed(0)
    .padStart(8)} MB/s`;
}

console.log(`record codec, ${caseMs} ms per case, operations per CPU-second, Node ${process.version}`);
for (const valueBytes of [1024, 64 * 1024]) {
  for (const siblings of [1, 5]) {
    const record = recordWith(valueBytes, siblings);
    const encoded = encodeRecord(record);
    const name = `${valueBytes / 1024} KiB × ${siblings} sibling${siblings > 1 ? "s" : ""}`;
    console.log(row(`encode ${name}`, measure(() => encodeRecord(record)), encoded.length));
    console.log(row(`decode ${name}`, measure(() => decodeRecord(encoded)), encoded.length));
    // A read's path decodes without copying values; a streamed page's records are only checked.
    console.log(row(`decode views ${name}`, measure(() => decodeRecord(encoded, { copyValues: false })), encoded.length));
    console.log(row(`check ${name}`, measure(() => checkRecord(encoded)), encoded.length));
  }
}
