import assert from "node:assert/strict";
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ClassicLevel } from "classic-level";
import { Store } from "../../../node/storage/index.js";
import { decodeFrames, encodeOps, WriteLog, type LoggedOp } from "../../../node/storage/write-log.js";
import { WriteQueue, type RawWrite } from "../../../node/storage/write-queue.js";
import { update } from "../../../node/versioning/index.js";
import type { VersionedRecord } from "../../../node/versioning/types.js";

const put = (key: string, value: string): RawWrite => ({ type: "put", key: Buffer.from(key), id: key, value: Buffer.from(value) });
const version = (value: string): VersionedRecord => update(undefined, {}, { value: Buffer.from(value), contentType: "text/plain", timestamp: { ms: 1, logical: 0 } }, "writer");
const valueOf = (r: VersionedRecord | undefined) => r?.siblings[0]?.value?.toString();
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Holds every write the database is handed (a batch, or a lone put or delete, which the queue sends below
 * abstract-level's public methods) until `release` is called, or fails it with `refuse`.
 */
function gate(db: ClassicLevel<Buffer, Buffer>): { release(): void; refuse(err: Error): void; held(): number } {
  const level = db as unknown as Record<"_put" | "_del" | "_batch", (...args: unknown[]) => Promise<void>>;
  const original = { _put: level._put.bind(db), _del: level._del.bind(db), _batch: level._batch.bind(db) };
  const waiting: { run(): void; fail(err: Error): void }[] = [];
  let failure: Error | undefined;
  let open = false;
  for (const name of ["_put", "_del", "_batch"] as const) {
    level[name] = (...args: unknown[]) => {
      if (failure) return Promise.reject(failure);
      if (open) return original[name](...args);
      return new Promise<void>((resolve, reject) => {
        waiting.push({ run: () => void original[name](...args).then(resolve, reject), fail: reject });
      });
    };
  }
  return {
    release() {
      open = true;
      for (const w of waiting.splice(0)) w.run();
    },
    refuse(err: Error) {
      failure = err;
      for (const w of waiting.splice(0)) w.fail(err);
    },
    held: () => waiting.length,
  };
}

describe("write log (acknowledged once logged, applied to LevelDB in batches)", function () {
  let dir: string;
  beforeEach(function () {
    dir = mkdtempSync(join(tmpdir(), "dynamo-wlog-"));
  });
  afterEach(function () {
    rmSync(dir, { recursive: true, force: true });
  });

  describe("frames", function () {
    const ops: LoggedOp[] = [
      { type: "put", key: Buffer.from("a"), value: Buffer.from("one") },
      { type: "del", key: Buffer.from("b"), value: undefined },
      { type: "clear", key: Buffer.from([0x64, 0, 5]), value: Buffer.from([0x64, 0, 6]) },
      { type: "put", key: Buffer.from("empty"), value: Buffer.alloc(0) },
    ];

    it("give back every operation of every frame, in order", function () {
      const file = Buffer.concat([encodeOps(ops, 1), encodeOps(ops.slice(0, 1), 1)]);
      const decoded = decodeFrames(file, 1);
      assert.deepEqual(decoded.ops, [...ops, ops[0]]);
      assert.equal(decoded.validBytes, file.length);
    });

    it("end at a frame cut short, at every byte it could be cut at", function () {
      const first = encodeOps(ops.slice(0, 2), 1);
      const second = encodeOps(ops.slice(2), 1);
      const file = Buffer.concat([first, second]);
      for (let cut = first.length; cut < file.length; cut++) {
        const decoded = decodeFrames(file.subarray(0, cut), 1);
        assert.deepEqual(decoded.ops, ops.slice(0, 2), `cut at ${cut}`);
        assert.equal(decoded.validBytes, first.length);
      }
    });

    it("end at a frame whose bytes changed, whichever byte it is", function () {
      const first = encodeOps(ops.slice(0, 1), 1);
      const file = Buffer.concat([first, encodeOps(ops.slice(1), 1)]);
      for (let at = first.length; at < file.length; at++) {
        const damaged = Buffer.from(file);
        damaged[at] = damaged[at]! ^ 0x40;
        assert.deepEqual(decodeFrames(damaged, 1).ops, ops.slice(0, 1), `byte ${at} changed`);
      }
    });
  });

  it("leaves the appended writes viewing one buffer of their own size, not the buffers they came in", function () {
    const log = new WriteLog(join(dir, "log"));
    log.reset();
    // A received message: one large buffer whose slices the writes are.
    const message = Buffer.allocUnsafeSlow(64 * 1024).fill(7);
    const ops: LoggedOp[] = [
      { type: "put", key: message.subarray(0, 10), value: message.subarray(10, 1010) },
      { type: "del", key: Buffer.from("gone"), value: undefined },
      { type: "put", key: Buffer.from("pooled"), value: Buffer.from("a small value from the pool") },
    ];
    const before = ops.map((op) => [Buffer.from(op.key), op.value && Buffer.from(op.value)]);
    log.append(ops);
    assert.deepEqual(ops.map((op) => [op.key, op.value]), before, "the writes still hold what they held");
    const own = ops[0]!.key.buffer;
    assert.ok(ops.every((op) => op.key.buffer === own && (op.value === undefined || op.value.buffer === own)), "every key and value views one buffer");
    assert.ok(own !== message.buffer);
    assert.equal(own.byteLength, encodeOps(ops, 1).length, "the one buffer is the frame, of the writes' own size");
    assert.deepEqual(new WriteLog(join(dir, "log")).recover().ops.map((op) => [op.key, op.value]), before);
    log.close(true);
  });

  describe("reused files", function () {
    /** Distinct operations, each of its own size, so that frames of different uses never line up. */
    const opOf = (i: number): LoggedOp => ({ type: "put", key: Buffer.from(`key-${i}`), value: Buffer.alloc(20 + ((i * 37) % 300), i % 251) });
    const keysOf = (ops: LoggedOp[]) => ops.map((op) => op.key.toString());

    it("replays only what was written since the last release, whatever earlier uses of the file left in it", function () {
      const seed = Number(process.env.SEED ?? Date.now() % 100_000);
      let state = seed;
      const random = (n: number): number => ((state = (state * 1103515245 + 12345) % 2 ** 31), state % n);
      const log = new WriteLog(join(dir, "log"), 2048);
      log.reset();
      let unreleased: LoggedOp[] = [];
      const generations = new Set<string>();
      for (let i = 0; i < 600; i++) {
        // Frames of one to four operations, so that a reused file's frames fall where its old ones did not.
        const frame = Array.from({ length: 1 + random(4) }, (_, j) => opOf(i * 4 + j));
        log.append(frame);
        unreleased.push(...frame);
        if (log.full) {
          log.release(log.rotate());
          unreleased = [];
        }
        for (const name of readdirSync(join(dir, "log"))) generations.add(name.replace(/^\d+-/, ""));
        if (random(25) === 0) {
          // A process killed now: its log directory as it is, replayed by the next one.
          const copy = join(dir, `killed-${i}`);
          cpSync(join(dir, "log"), copy, { recursive: true });
          const contents = new WriteLog(copy).recover();
          assert.deepEqual(keysOf(contents.ops), keysOf(unreleased), `replay after frame ${i} (seed ${seed}; replay with SEED=${seed})`);
          assert.equal(contents.discardedBytes, 0, `seed ${seed}`);
        }
      }
      // The files were reused: the same spare went round, its generation one higher each time.
      assert.ok(generations.has("5.wal"), `files reused at least four times, saw ${[...generations].join(", ")} (seed ${seed})`);
      log.close(true);
    });

    it("never replays the spare, reads files of the older format, and reuses one of them once LevelDB holds it", function () {
      const logDir = join(dir, "log");
      const older = new WriteLog(logDir);
      older.reset();
      older.close(true);
      // A log the version before this one left: unseeded checksums, `<sequence>.log`.
      rmSync(logDir, { recursive: true });
      mkdirSync(logDir);
      writeFileSync(join(logDir, "0000000007.log"), Buffer.concat([encodeOps([opOf(1)], 0), encodeOps([opOf(2)], 0)]));
      // A spare holding frames that would pass their check: its name alone keeps them out of a replay.
      writeFileSync(join(logDir, "spare-3"), encodeOps([opOf(3)], 3));
      const log = new WriteLog(logDir);
      assert.deepEqual(keysOf(log.recover().ops), ["key-1", "key-2"]);
      log.reset();
      // The spare found on disk is reused; the older file is removed, not replayed again.
      assert.deepEqual(readdirSync(logDir).sort(), ["0000000001-4.wal"]);
      log.append([opOf(4)]);
      assert.deepEqual(keysOf(new WriteLog(logDir).recover().ops), ["key-4"]);
      log.close(true);
    });

    it("does not count what a reused file's earlier uses left after its frames as frames cut short", function () {
      const logDir = join(dir, "log");
      const log = new WriteLog(logDir, 512);
      log.reset();
      for (let i = 0; i < 20; i++) {
        log.append([opOf(i)]);
        if (log.full) log.release(log.rotate());
      }
      const name = readdirSync(logDir).find((n) => n.endsWith(".wal"))!;
      assert.match(name, /-[2-9]\d*\.wal$/, "the file being written is a reused one");
      const contents = new WriteLog(logDir).recover();
      assert.equal(contents.discardedBytes, 0);
      log.close(true);
    });
  });

  describe("in front of a write queue", function () {
    let db: ClassicLevel<Buffer, Buffer>;
    beforeEach(async function () {
      db = new ClassicLevel<Buffer, Buffer>(join(dir, "db"), { keyEncoding: "buffer", valueEncoding: "buffer" });
      await db.open();
    });
    afterEach(async function () {
      await db.close();
    });

    it("acknowledges a write once logged, keeps it readable until LevelDB holds it, then lets it go", async function () {
      const held = gate(db);
      const log = new WriteLog(join(dir, "log"));
      log.reset();
      const queue = new WriteQueue(db, { sync: false }, { countMax: 1000, bytesMax: 1 << 20, unappliedBytesMax: 1 << 20 });
      queue.useLog(log);
      await queue.write([put("k", "v1")]);
      await nextTurn();
      await queue.write([put("k", "v2")]);
      await nextTurn();
      assert.equal(held.held(), 1, "the first batch is in flight; the second waits for it");
      assert.equal(await db.get(Buffer.from("k")), undefined, "LevelDB holds nothing yet");
      assert.equal(queue.unapplied("k")?.value?.toString(), "v2", "the latest acknowledged write is readable");
      const applied = queue.applied();
      held.release();
      await applied;
      assert.equal((await db.get(Buffer.from("k")))?.toString(), "v2");
      assert.equal(queue.unapplied("k"), undefined);
      assert.equal(queue.batches, 2);
      log.close(true);
    });

    // No assertion here depends on how fast the loop turns: a busy machine (CI builds beside the tests) once took more
    // than a short delay for five writes. The gathering is checked under a delay no run comes near, and the delay's
    // timer by waiting for its trip, however late.
    it("gathers logged writes for applyDelayMs and sends them to LevelDB in one trip, or at once when drained", async function () {
      const trips: number[] = [];
      const level = db as unknown as { _batch: (ops: unknown[], options: unknown) => Promise<void>; _put: (...args: unknown[]) => Promise<void> };
      const batch = level._batch.bind(db);
      const putOne = level._put.bind(db);
      level._batch = (ops, options) => (trips.push(ops.length), batch(ops, options));
      level._put = (...args) => (trips.push(1), putOne(...args));

      const gathering = new WriteLog(join(dir, "gathering"));
      gathering.reset();
      const slow = new WriteQueue(db, { sync: false }, { countMax: 1000, bytesMax: 1 << 20, unappliedBytesMax: 1 << 20, applyDelayMs: 600_000 });
      slow.useLog(gathering);
      for (let i = 0; i < 5; i++) {
        await slow.write([put(`k${i}`, `v${i}`)]);
        await nextTurn();
      }
      assert.deepEqual(trips, [], "nothing has gone to LevelDB within the delay");
      assert.equal(slow.unapplied("k3")?.value?.toString(), "v3", "acknowledged writes are readable meanwhile");
      await slow.applied();
      assert.deepEqual(trips, [5], "a drain sends the five gathered writes at once, in one trip");
      assert.equal((await db.get(Buffer.from("k4")))?.toString(), "v4");
      gathering.close(true);

      const timed = new WriteLog(join(dir, "timed"));
      timed.reset();
      const quick = new WriteQueue(db, { sync: false }, { countMax: 1000, bytesMax: 1 << 20, unappliedBytesMax: 1 << 20, applyDelayMs: 20 });
      quick.useLog(timed);
      await quick.write([put("late", "x")]);
      await quick.write([put("later", "y")]);
      assert.deepEqual(trips, [5], "the delay has not run out within the turn of the writes");
      const deadline = performance.now() + 10_000;
      while (trips.length === 1 && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
      assert.deepEqual(trips, [5, 2], "once the delay runs out, the gathered writes go in one trip without a drain");
      await quick.applied();
      assert.equal((await db.get(Buffer.from("later")))?.toString(), "y");
      timed.close(true);
    });

    it("makes writers wait for LevelDB once the writes it does not hold pass the bound", async function () {
      const held = gate(db);
      const log = new WriteLog(join(dir, "log"));
      log.reset();
      const queue = new WriteQueue(db, { sync: false }, { countMax: 1000, bytesMax: 1 << 20, unappliedBytesMax: 1000 });
      queue.useLog(log);
      await queue.write([put("a", "x".repeat(600))]);
      let acknowledged = false;
      const second = queue.write([put("b", "y".repeat(600))]).then(() => (acknowledged = true));
      for (let i = 0; i < 5; i++) await nextTurn();
      assert.equal(acknowledged, false, "1 202 bytes wait for LevelDB, past the bound of 1 000");
      held.release();
      await second;
      assert.equal((await db.get(Buffer.from("b")))?.toString(), "y".repeat(600));
      log.close(true);
    });

    it("starts a new file once one is full and removes the old ones once LevelDB holds what they hold", async function () {
      const log = new WriteLog(join(dir, "log"), 4096);
      log.reset();
      const queue = new WriteQueue(db, { sync: false }, { countMax: 1000, bytesMax: 1 << 20, unappliedBytesMax: 1 << 20 });
      queue.useLog(log);
      for (let i = 0; i < 100; i++) await queue.write([put(`k${i}`, "v".repeat(200))]);
      await queue.applied();
      // The removal follows the drain that the last rotation started.
      await nextTurn();
      assert.deepEqual(readdirSync(join(dir, "log")).filter((name) => name.endsWith(".wal")).length, 1, "only the file being appended to is left");
      assert.ok(readdirSync(join(dir, "log")).some((name) => /^spare-\d+$/.test(name)), "with a released file kept as the spare");
      for (let i = 0; i < 100; i++) assert.equal((await db.get(Buffer.from(`k${i}`)))?.toString(), "v".repeat(200));
      log.close(true);
    });
  });

  describe("in a store", function () {
    it("replays into an empty LevelDB every write, deletion and partition drop the log holds, in order", async function () {
      const first = new Store(join(dir, "a"));
      await first.open();
      await first.put(5, "b", Buffer.from("dropped"), version("gone"));
      await first.put(6, "b", Buffer.from("kept"), version("old"));
      await first.dropPartition(5);
      await first.put(6, "b", Buffer.from("kept"), version("new"));
      await first.batch([{ type: "del", partition: 6, bucket: "b", key: Buffer.from("kept") }, { type: "put", partition: 7, bucket: "b", key: Buffer.from("late"), record: version("late") }]);
      // The log as a killed process would have left it, beside a LevelDB that took none of it.
      cpSync(join(dir, "a", "write-log"), join(dir, "b", "write-log"), { recursive: true });
      await first.close();
      assert.deepEqual(readdirSync(join(dir, "a", "write-log")), [], "a clean close leaves no log behind");

      const second = new Store(join(dir, "b"));
      await second.open();
      try {
        assert.equal(second.recovery.files, 1);
        assert.ok(second.recovery.operations >= 6);
        assert.equal(await second.get(5, "b", Buffer.from("dropped")), undefined);
        assert.equal(await second.get(6, "b", Buffer.from("kept")), undefined);
        assert.equal(valueOf(await second.get(7, "b", Buffer.from("late"))), "late");
        assert.equal(await second.holdsPartition(5), false);
      } finally {
        await second.close();
      }
    });

    it("replays a log that ends in a frame cut short, leaving the cut frame out and counting it", async function () {
      const store = new Store(join(dir, "a"));
      await store.open();
      await store.put(1, "b", Buffer.from("k"), version("v"));
      cpSync(join(dir, "a", "write-log"), join(dir, "b", "write-log"), { recursive: true });
      await store.close();
      const file = join(dir, "b", "write-log", readdirSync(join(dir, "b", "write-log"))[0]!);
      appendFileSync(file, encodeOps([{ type: "put", key: Buffer.from("torn"), value: Buffer.from("x") }], 1).subarray(0, 12));
      const reopened = new Store(join(dir, "b"));
      await reopened.open();
      try {
        assert.equal(reopened.recovery.discardedBytes, 12);
        assert.equal(valueOf(await reopened.get(1, "b", Buffer.from("k"))), "v");
      } finally {
        await reopened.close();
      }
    });

    it("reads a write LevelDB does not hold yet, with no record cache to answer for it", async function () {
      const store = new Store(join(dir, "a"), { cacheBytesMax: 0 });
      await store.open();
      const held = gate(store.level);
      await store.put(3, "b", Buffer.from("k"), version("v"));
      await store.putRaw(Buffer.from("h-marker"), Buffer.from("m"));
      assert.equal(valueOf(await store.get(3, "b", Buffer.from("k"))), "v");
      assert.equal(valueOf((await store.getMany(3, [{ bucket: "b", key: Buffer.from("k") }]))[0]), "v");
      assert.equal((await store.getRaw(Buffer.from("h-marker")))?.toString(), "m");
      const scanned = (async () => {
        const keys: string[] = [];
        for await (const e of store.scanPartition(3)) keys.push(e.key.toString());
        return keys;
      })();
      held.release();
      assert.deepEqual(await scanned, ["k"], "a scan waits for LevelDB to hold what was acknowledged");
      await store.close();
    });

    it("takes no more writes once LevelDB refused a batch, keeps what was acknowledged readable, and replays it on the next open", async function () {
      const told: string[] = [];
      const store = new Store(join(dir, "a"), { cacheBytesMax: 0, onWriteFailure: (err) => told.push(err.message) });
      await store.open();
      const held = gate(store.level);
      await store.put(3, "b", Buffer.from("acked"), version("v"));
      // The acknowledged write goes to LevelDB a moment later, gathered with whatever else came (applyDelayMs).
      while (held.held() === 0) await new Promise((resolve) => setTimeout(resolve, 1));
      held.refuse(new Error("IO error: No space left on device"));
      await nextTurn();
      await assert.rejects(store.put(3, "b", Buffer.from("later"), version("w")), /LevelDB refused a batch of writes: IO error: No space left on device; the store takes no more writes until the node restarts/);
      assert.equal(valueOf(await store.get(3, "b", Buffer.from("acked"))), "v");
      assert.equal(told.length, 1, "the node is told once, to log it");
      assert.match(told[0]!, /^LevelDB refused a batch of writes: IO error/);
      assert.equal(store.writeStats().refused, true);
      await store.close();
      assert.equal(readdirSync(join(dir, "a", "write-log")).length, 1, "the log is kept for the next open");

      const reopened = new Store(join(dir, "a"));
      await reopened.open();
      try {
        assert.equal(valueOf(await reopened.get(3, "b", Buffer.from("acked"))), "v");
        assert.equal(await reopened.get(3, "b", Buffer.from("later")), undefined, "the refused write was never acknowledged");
      } finally {
        await reopened.close();
      }
    });

    it("uses no log where every batch is fsynced, after replaying one an earlier process left", async function () {
      const store = new Store(join(dir, "a"));
      await store.open();
      await store.put(1, "b", Buffer.from("k"), version("v"));
      cpSync(join(dir, "a", "write-log"), join(dir, "b", "write-log"), { recursive: true });
      await store.close();
      const synced = new Store(join(dir, "b"), { syncWrites: true });
      await synced.open();
      try {
        assert.equal(synced.recovery.files, 1);
        assert.equal(valueOf(await synced.get(1, "b", Buffer.from("k"))), "v");
        await synced.put(1, "b", Buffer.from("k2"), version("w"));
        assert.deepEqual(readdirSync(join(dir, "b", "write-log")), []);
      } finally {
        await synced.close();
      }
    });
  });
});
