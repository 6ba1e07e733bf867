/**
 * Backups and restores with real processes: a 3-node cluster holding keys with siblings, lww overwrites and deletes
 * is backed up to a directory while a client keeps writing, the backup is restored into a new cluster of another size
 * and another partition count, and then every key acknowledged before the backup started reads back with the same
 * versions (sibling dots, timestamps), no deleted key comes back, and a context read after the restore resolves
 * siblings. A corrupt or missing partition file fails the restore by name before anything is written; a stopped
 * backup resumes. DYNAMO_BACKUP_KEYS sets the number of keys (the full test: 100000; CI runs fewer).
 * DYNAMO_BACKUP_STORE=s3 runs it all against a real S3 server (versitygw, lib/local-s3.ts) instead of a
 * directory; test/integration/backup-s3.test.ts covers S3 in CI.
 */
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DynamoClient } from "../../client/index.js";
import type { Ring } from "../../node/ring/index.js";
import { CLI, REPO_ROOT, runCli, TestCluster } from "../helpers/dev-cluster.js";
import { writeEntry, type BackupEntry, type BackupKind } from "../helpers/backup-data.js";
import { pool } from "../helpers/pool.js";
import { currentRing, replicasOf, retry, valuesOf } from "../helpers/replicas.js";
import { S3Server } from "../../lib/local-s3.js";
import { seededRandom } from "../../lib/random.js";
import { testSeed } from "../helpers/random.js";

const CONFIG = join(REPO_ROOT, "test", "integration", "fixtures", "backup.yaml");
const KEYS = Number(process.env.DYNAMO_BACKUP_KEYS ?? 3000);
const CONCURRENCY = 48;
const STORE = process.env.DYNAMO_BACKUP_STORE ?? "file";
const S3_BUCKET = "dynamo-backups";

type Expected = BackupEntry;

/**
 * Writes the keys of the test (test/helpers/backup-data.ts). A request that times out may still have been stored, and
 * a blind write sent again is a new sibling, so what each key holds is read back afterwards (`settle`) rather than
 * assumed.
 */
async function load(client: DynamoClient, count: number, seed: number): Promise<Expected[]> {
  const random = seededRandom(seed);
  const plan: Expected[] = [];
  for (let i = 0; i < count; i++) {
    const roll = random.next();
    const kind: BackupKind = roll < 0.1 ? "siblings" : roll < 0.2 ? "deleted" : roll < 0.3 ? "lww" : roll < 0.35 ? "single" : "plain";
    const bucket = kind === "lww" ? "sessions" : kind === "single" ? "single" : "cart";
    plan.push({ bucket, key: `k${String(i).padStart(7, "0")}`, kind, values: [] });
  }
  await pool(plan, CONCURRENCY, (e) => writeEntry(client, e, () => read(client, e)));
  return plan;
}

function read(client: DynamoClient, e: Expected) {
  return client.get(e.bucket, e.key, { r: e.bucket === "single" ? 1 : 3 });
}

/** What every key reads as, from all its replicas, before the backup starts: what the restore must bring back. */
async function settle(client: DynamoClient, plan: Expected[]): Promise<string[]> {
  const problems: string[] = [];
  await pool(plan, CONCURRENCY, async (e) => {
    // A write a stand-in took for a replica it thought down (sloppy quorum) reads only once its hint is delivered.
    const deadline = Date.now() + 60_000;
    for (;;) {
      e.values = valuesOf(await retry(() => read(client, e)));
      const ok = e.kind === "deleted" ? e.values.length === 0 : e.kind === "siblings" ? e.values.length >= 2 : e.values.length >= 1;
      if (ok) return;
      if (Date.now() > deadline) {
        problems.push(`${e.bucket}/${e.key} (${e.kind}) reads ${JSON.stringify(e.values)} on the source`);
        return;
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  });
  return problems;
}

async function check(client: DynamoClient, plan: Expected[]): Promise<string[]> {
  const problems: string[] = [];
  await pool(plan, CONCURRENCY, async (e) => {
    const values = valuesOf(await retry(() => read(client, e)));
    if (JSON.stringify(values) !== JSON.stringify(e.values)) problems.push(`${e.bucket}/${e.key} (${e.kind}): read ${JSON.stringify(values)}, expected ${JSON.stringify(e.values)}`);
  });
  return problems;
}

interface LocalSibling {
  dot: { actor: string; counter: number };
  value: string | null;
  timestamp: { ms: number; logical: number };
}

/** The union of a key's siblings over its replicas' own copies, as `actor:counter@ms.logical=value` strings. */
async function siblingsOf(cluster: TestCluster, ring: Ring, bucket: string, key: string, n: number): Promise<string[]> {
  const ids = cluster.nodes().map((node) => node.id);
  const records = await Promise.all(
    replicasOf(ring, bucket, key, n).map((id) => cluster.localRecord(ids.indexOf(id), bucket, key) as Promise<{ found: boolean; siblings?: LocalSibling[] }>),
  );
  const out = new Set<string>();
  for (const record of records) {
    for (const s of record.siblings ?? []) out.add(`${s.dot.actor}:${s.dot.counter}@${s.timestamp.ms}.${s.timestamp.logical}=${s.value ?? "(deleted)"}`);
  }
  return [...out].sort();
}

describe("backup and restore", function () {
  // Loading and checking take time in proportion to the keys: 30 ms a key is ample on a busy 2-core machine.
  this.timeout(Math.max(900_000, KEYS * 30));
  const seed = testSeed();
  let source: TestCluster | undefined;
  let target: TestCluster | undefined;
  let plan: Expected[] = [];
  let s3: S3Server | undefined;
  // Where the backups go, and the directory that holds the same files (for S3: the server's POSIX backend).
  let store = "";
  let location = "";
  let storeFlags: string[] = [];
  let storeEnv: Record<string, string> | undefined;
  /** The location of a copy of the store under `name` (a directory beside it; for S3, a prefix beside it). */
  let copyOf: (name: string) => { dir: string; location: string };
  let backupId = "";
  const cli = (args: string[]) => runCli([...args, ...storeFlags], undefined, storeEnv);

  before(async function () {
    console.log(`    seed ${seed}, ${KEYS} keys, backups to ${STORE}`);
    if (STORE === "s3") {
      if (!S3Server.available()) this.skip();
      s3 = await S3Server.start([S3_BUCKET]);
      store = s3.objectPath(S3_BUCKET, "suite");
      location = `s3://${S3_BUCKET}/suite`;
      storeFlags = ["--s3-endpoint", s3.endpoint, "--s3-path-style"];
      storeEnv = s3.env;
      copyOf = (name) => ({ dir: s3!.objectPath(S3_BUCKET, name), location: `s3://${S3_BUCKET}/${name}` });
    } else if (STORE === "file") {
      store = mkdtempSync(join(tmpdir(), "dynamo-backup-store-"));
      location = `file://${store}`;
      copyOf = (name) => ({ dir: `${store}-${name}`, location: `file://${store}-${name}` });
    } else {
      throw new Error(`DYNAMO_BACKUP_STORE must be file or s3, not ${STORE}`);
    }
    // One after the other: two clusters starting at once on a busy machine miss their start-up deadlines.
    source = await TestCluster.start({ nodes: 3, config: CONFIG, partitions: 32 });
    target = await TestCluster.start({ nodes: 4, config: CONFIG, partitions: 16 });
    const started = Date.now();
    const client = new DynamoClient(source.clientUrls(), { timeoutMs: 20_000 });
    plan = await load(client, KEYS, seed);
    assert.deepEqual((await settle(client, plan)).slice(0, 20), []);
    console.log(`    wrote ${KEYS} keys in ${Date.now() - started} ms`);
  });

  after(async function () {
    await source?.destroy();
    await target?.destroy();
    if (s3) await s3.stop();
    else if (store) rmSync(store, { recursive: true, force: true });
  });

  it("backs up while a client keeps writing, and exits 0 only once complete", async function () {
    const client = new DynamoClient(source!.clientUrls());
    let stop = false;
    let during = 0;
    const writer = (async () => {
      while (!stop) {
        await client.put("cart", `during-${during}`, "x").then(() => during++, () => undefined);
      }
    })();
    const started = Date.now();
    const resultFile = join(tmpdir(), `dynamo-backup-result-${process.pid}.json`);
    const r = await cli(["backup", "create", "--to", location, "--data-dir", source!.dataDir, "--json", "--result-file", resultFile]);
    stop = true;
    await writer;
    assert.equal(r.code, 0, r.stderr);
    // The line the operator reads from a backup Job's termination message.
    const line = JSON.parse(readFileSync(resultFile, "utf8")) as { ok: boolean; action: string; id: string; partitions: number };
    rmSync(resultFile, { force: true });
    assert.deepEqual([line.ok, line.action, line.id, line.partitions], [true, "backup", JSON.parse(r.stdout).id, 32]);
    const result = JSON.parse(r.stdout) as { id: string; totals: { records: number; tombstones: number; bytes: number; rawBytes: number } };
    backupId = result.id;
    console.log(`    backup ${backupId}: ${result.totals.records} records (${result.totals.tombstones} deletes), ${result.totals.rawBytes} bytes compressed to ${result.totals.bytes}, in ${Date.now() - started} ms while ${during} writes went on`);
    const deleted = plan.filter((e) => e.kind === "deleted").length;
    assert.ok(result.totals.records >= KEYS, `the backup holds ${result.totals.records} records for ${KEYS} keys`);
    assert.ok(result.totals.tombstones >= deleted, `${result.totals.tombstones} tombstones for ${deleted} deleted keys`);
    const manifest = JSON.parse(readFileSync(join(store, backupId, "manifest.json"), "utf8")) as { partitions: unknown[]; cluster: { partitions: number }; buckets: { name: string }[]; formatVersion: number };
    assert.equal(manifest.partitions.length, 32);
    assert.equal(manifest.formatVersion, 1);
    assert.deepEqual(manifest.buckets.map((b) => b.name).sort(), ["cart", "default", "sessions", "single"]);

    const list = await cli(["backup", "list", "--from", location]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, new RegExp(`${backupId}\\s+complete`));
  });

  it("refuses a backup with a corrupt partition file, naming it, before writing anything", async function () {
    const { dir: copy, location: copyLocation } = copyOf("corrupt");
    try {
      cpSync(store, copy, { recursive: true });
      const dir = join(copy, backupId, "partitions");
      const victim = readdirSync(dir).sort()[5]!;
      const bytes = readFileSync(join(dir, victim));
      bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
      writeFileSync(join(dir, victim), bytes);
      const resultFile = join(tmpdir(), `dynamo-restore-result-${process.pid}.json`);
      const r = await cli(["backup", "restore", "--from", copyLocation, "--data-dir", target!.dataDir, "--result-file", resultFile]);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stderr, new RegExp(`${backupId}/partitions/${victim.replace(/\./g, "\\.")}.*(SHA-256|corrupt)`));
      // What the operator puts in a bootstrapping cluster's Restored condition: the code and the file.
      const failure = JSON.parse(readFileSync(resultFile, "utf8")) as { ok: boolean; code: string; message: string };
      assert.deepEqual([failure.ok, failure.code], [false, "corrupt_object"]);
      assert.match(failure.message, new RegExp(`${backupId}/partitions/${victim.replace(/\./g, "\\.")}`));

      rmSync(join(dir, victim));
      const missing = await cli(["backup", "restore", "--from", copyLocation, "--data-dir", target!.dataDir, "--result-file", resultFile]);
      assert.equal(missing.code, 1, missing.stdout + missing.stderr);
      assert.match(missing.stderr, new RegExp(`${backupId}/partitions/${victim.replace(/\./g, "\\.")} does not exist`));
      assert.equal((JSON.parse(readFileSync(resultFile, "utf8")) as { code: string }).code, "missing_object");
      rmSync(resultFile, { force: true });
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
    // Nothing was written: the cluster is still empty, so a plain restore (which refuses a non-empty cluster) goes on below.
    const probe = await new DynamoClient(target!.clientUrls()).get("cart", plan[0]!.key, { r: 1 });
    assert.equal(probe.kind, "not_found");
  });

  it("restores into a cluster of another size and partition count with every version intact", async function () {
    const started = Date.now();
    const r = await cli(["backup", "restore", "--from", location, "--data-dir", target!.dataDir]);
    assert.equal(r.code, 0, r.stderr);
    console.log(`    ${r.stdout.trim()} (${Date.now() - started} ms)`);

    const client = new DynamoClient(target!.clientUrls(), { timeoutMs: 20_000 });
    assert.deepEqual((await check(client, plan)).slice(0, 20), []);

    // Versions, not only values: the same sibling dots and timestamps as the source's replicas hold.
    const sample = plan.filter((_, i) => i % Math.max(1, Math.floor(plan.length / 60)) === 0);
    const [sourceRing, targetRing] = [await currentRing(source!), await currentRing(target!)];
    const mismatches: string[] = [];
    await pool(sample, 8, async (e) => {
      const n = e.bucket === "single" ? 1 : 3;
      const [restored, original] = [await siblingsOf(target!, targetRing, e.bucket, e.key, n), await siblingsOf(source!, sourceRing, e.bucket, e.key, n)];
      if (JSON.stringify(restored) !== JSON.stringify(original)) mismatches.push(`${e.bucket}/${e.key} (${e.kind}): ${JSON.stringify(restored)} restored, ${JSON.stringify(original)} backed up`);
    });
    assert.deepEqual(mismatches, []);

    // A context read after the restore resolves siblings, as it would have before.
    const withSiblings = plan.find((e) => e.kind === "siblings")!;
    const read = await client.get("cart", withSiblings.key);
    assert.equal(read.kind, "siblings");
    await client.put("cart", withSiblings.key, "resolved", { context: read.context });
    const after = await client.get("cart", withSiblings.key, { r: 3 });
    assert.ok(after.kind === "value" && after.value.toString() === "resolved", JSON.stringify(after));

    const again = await cli(["backup", "restore", "--from", location, "--data-dir", target!.dataDir]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already holds data/);
  });

  it("a stopped backup is recorded as failed, and running it again with its id resumes it", async function () {
    const id = "resume-test";
    const args = [CLI, "backup", "create", "--to", location, "--id", id, "--data-dir", source!.dataDir, "--records-per-second", "4000", "--partitions-in-flight", "1", ...storeFlags];
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...storeEnv } });
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const deadline = Date.now() + 120_000;
    while (!/ [1-9]\d*\/32 partitions/.test(stderr) && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 100));
    child.kill("SIGTERM");
    const [code] = (await once(child, "exit")) as [number];
    assert.equal(code, 1, stderr);
    const list = await cli(["backup", "list", "--from", location, "--json"]);
    const entry = (JSON.parse(list.stdout) as { id: string; state: string; partitionsDone: number }[]).find((b) => b.id === id)!;
    assert.equal(entry.state, "failed");
    assert.ok(entry.partitionsDone > 0 && entry.partitionsDone < 32, JSON.stringify(entry));

    const r = await cli(["backup", "create", "--to", location, "--id", id, "--data-dir", source!.dataDir, "--bytes-per-second", "0", "--records-per-second", "0"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`${entry.partitionsDone} partitions kept from an earlier run`));
  });
});
