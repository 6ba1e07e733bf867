import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ClassicLevel } from "classic-level";
import { WriteLog } from "../../../node/storage/write-log.js";
import { WriteQueue, type RawWrite } from "../../../node/storage/write-queue.js";

const put = (key: string, value: string): RawWrite => ({ type: "put", key: Buffer.from(key), id: key, value: Buffer.from(value) });
const del = (key: string): RawWrite => ({ type: "del", key: Buffer.from(key), id: key, value: undefined });
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

type Op = { type: "put" | "del"; key: Buffer; value?: Buffer };
/**
 * Runs `around` instead of each write the queue hands to the database (a batch, or a lone put or delete, which the
 * queue sends below abstract-level's public methods), with the operations and the real write to call.
 */
function instrument(db: ClassicLevel<Buffer, Buffer>, around: (ops: Op[], write: () => Promise<void>) => Promise<void>): void {
  const level = db as unknown as Record<"_put" | "_del" | "_batch", (...args: unknown[]) => Promise<void>>;
  const put = level._put.bind(db);
  const del = level._del.bind(db);
  const batch = level._batch.bind(db);
  level._put = (key, value, options) => around([{ type: "put", key: key as Buffer, value: value as Buffer }], () => put(key, value, options));
  level._del = (key, options) => around([{ type: "del", key: key as Buffer }], () => del(key, options));
  level._batch = (ops, options) => around(ops as Op[], () => batch(ops, options));
}

describe("write queue (one LevelDB batch per event-loop turn)", function () {
  let dir: string;
  let db: ClassicLevel<Buffer, Buffer>;
  beforeEach(async function () {
    dir = mkdtempSync(join(tmpdir(), "dynamo-wq-"));
    db = new ClassicLevel<Buffer, Buffer>(dir, { keyEncoding: "buffer", valueEncoding: "buffer" });
    await db.open();
  });
  afterEach(async function () {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const read = async (key: string) => (await db.get(Buffer.from(key)))?.toString();

  it("writes one turn's writes as one batch, the later of two writes to a key winning", async function () {
    const queue = new WriteQueue(db, { sync: false }, { countMax: 1000, bytesMax: 1 << 20, unappliedBytesMax: 1 << 24 });
    await db.put(Buffer.from("gone"), Buffer.from("x"));
    const acks = [];
    for (let i = 0; i < 50; i++) acks.push(queue.write([put(`k${i}`, `v${i}`)]));
    acks.push(queue.write([put("same", "first")]), queue.write([put("same", "second"), del("gone")]));
    await Promise.all(acks);
    assert.equal(queue.batches, 1);
    assert.equal(queue.operations, 53);
    assert.equal(await read("k49"), "v49");
    assert.equal(await read("same"), "second");
    assert.equal(await read("gone"), undefined);
  });

  it("hands LevelDB one operation per key of a batch, the key's last write, in the place of its first", async function () {
    const queue = new WriteQueue(db, { sync: false }, { countMax: 1000, bytesMax: 1 << 20, unappliedBytesMax: 1 << 24 });
    await db.put(Buffer.from("back"), Buffer.from("old"));
    const batches: string[][] = [];
    instrument(db, (ops, write) => {
      batches.push(ops.map((o) => `${o.type} ${o.key.toString()}${o.value ? `=${o.value.toString()}` : ""}`));
      return write();
    });
    const acks = [
      queue.write([put("hot", "1")]),
      queue.write([put("cold", "c")]),
      queue.write([put("hot", "2"), put("gone", "x")]),
      queue.write([del("gone")]),
      queue.write([del("back")]),
      queue.write([put("hot", "3"), put("back", "new")]),
    ];
    await Promise.all(acks);
    assert.deepEqual(batches, [["put hot=3", "put cold=c", "del gone", "put back=new"]]);
    assert.equal(queue.operations, 8);
    assert.equal(await read("hot"), "3");
    assert.equal(await read("gone"), undefined);
    assert.equal(await read("back"), "new");
  });

  it("acknowledges a write only once its batch is written", async function () {
    const queue = new WriteQueue(db, { sync: false }, { countMax: 1000, bytesMax: 1 << 20, unappliedBytesMax: 1 << 24 });
    let written = false;
    instrument(db, async (_ops, write) => {
      await new Promise((r) => setTimeout(r, 30));
      await write();
      written = true;
    });
    await queue.write([put("k", "v")]);
    assert.ok(written, "the write was acknowledged before its batch was written");
    assert.equal(await read("k"), "v");
  });

  it("lets batches overlap, except one that writes a key an unfinished batch writes: that one waits, so the later write wins", async function () {
    const queue = new WriteQueue(db, { sync: false }, { countMax: 1000, bytesMax: 1 << 20, unappliedBytesMax: 1 << 24 });
    const order: string[] = [];
    let calls = 0;
    instrument(db, async (ops, write) => {
      const name = ops.map((o) => o.key.toString()).join(",");
      order.push(`start ${name}`);
      // The first batch is slow to write, so the next turns' batches start while it is in flight.
      if (calls++ === 0) await new Promise((r) => setTimeout(r, 50));
      await write();
      order.push(`end ${name}`);
    });
    const first = queue.write([put("shared", "old"), put("a", "1")]);
    await nextTurn();
    const unrelated = queue.write([put("b", "2")]);
    await nextTurn();
    const second = queue.write([put("shared", "new")]);
    await Promise.all([first, unrelated, second]);
    assert.equal(await read("shared"), "new");
    assert.deepEqual(order, ["start shared,a", "start b", "end b", "end shared,a", "start shared", "end shared"]);
  });

  it("bounds a batch by count and bytes; one caller's writes past the bound, or of a quarter of it, go as one batch", async function () {
    const queue = new WriteQueue(db, { sync: false }, { countMax: 10, bytesMax: 1000, unappliedBytesMax: 1 << 24 });
    const sizes: number[] = [];
    instrument(db, (ops, write) => {
      sizes.push(ops.length);
      return write();
    });
    const acks = [];
    for (let i = 0; i < 25; i++) acks.push(queue.write([put(`c${i}`, "v")]));
    await Promise.all(acks);
    assert.deepEqual(sizes, [10, 10, 5]);

    sizes.length = 0;
    const small = queue.write([put("s", "v")]);
    const page = queue.write(Array.from({ length: 15 }, (_, i) => put(`p${i}`, "v")));
    const big = queue.write([put("big", "x".repeat(2000))]);
    await Promise.all([small, page, big]);
    assert.deepEqual(sizes, [1, 15, 1]);
    assert.equal((await read("big"))?.length, 2000);

    // A page of a quarter of a batch or more goes on its own at once, after the turn's writes queued before it (one
    // of which it overwrites), and those after it form the turn's batch.
    sizes.length = 0;
    const before = [queue.write([put("q1", "v")]), queue.write([put("p0", "old")])];
    const quarter = queue.write([put("p0", "new"), put("p1", "v"), put("p2", "v")]);
    const after = queue.write([put("q2", "v")]);
    await Promise.all([...before, quarter, after]);
    // The page waits for the batch holding the older write of p0, so the turn's batch may go before it.
    assert.deepEqual([...sizes].sort(), [1, 2, 3]);
    assert.equal(await read("p0"), "new");
  });

  it("refuses writes once the database is closed, instead of handing them to a closed binding", async function () {
    const queue = new WriteQueue(db, { sync: false }, { countMax: 1000, bytesMax: 1 << 20, unappliedBytesMax: 1 << 24 });
    await db.close();
    await assert.rejects(queue.write([put("k", "v")]), /not open/);
    await assert.rejects(queue.write([put("k", "v"), put("l", "v")]), /not open/);
    await db.open();
  });

  it("drain writes what is queued and waits for it", async function () {
    const queue = new WriteQueue(db, { sync: false }, { countMax: 1000, bytesMax: 1 << 20, unappliedBytesMax: 1 << 24 });
    let acked = false;
    void queue.write([put("d", "v")]).then(() => (acked = true));
    await queue.drain();
    assert.equal(await read("d"), "v");
    await Promise.resolve();
    assert.ok(acked);
  });

  describe("with a write log", function () {
    const limits = { countMax: 1000, bytesMax: 1 << 20, unappliedBytesMax: 1 << 24, applyDelayMs: 0 };
    /** A real log whose appends are counted. */
    function countedLog(): { log: WriteLog; appends: () => number } {
      const log = new WriteLog(join(dir, "log"));
      log.reset();
      let appends = 0;
      const append = log.append.bind(log);
      log.append = (ops) => {
        appends += 1;
        append(ops);
      };
      return { log, appends: () => appends };
    }
    const logged = () => new WriteLog(join(dir, "log")).recover().ops.map((op) => `${op.type} ${op.key.toString()}`);

    it("appends the writes of one turn, from every caller, as one frame, and acknowledges them together", async function () {
      const queue = new WriteQueue(db, { sync: false }, limits);
      const { log, appends } = countedLog();
      queue.useLog(log);
      const acks = [queue.write([put("a", "1")]), queue.write([put("b", "2"), del("c")]), queue.write([put("a", "3")])];
      assert.equal(appends(), 0, "nothing is appended before the turn ends");
      await Promise.all(acks);
      assert.equal(appends(), 1);
      assert.deepEqual(logged(), ["put a", "put b", "del c", "put a"]);
      await queue.write([put("d", "4")]);
      assert.equal(appends(), 2, "a write of a later turn is a frame of its own");
      await queue.drain();
      assert.equal(await read("a"), "3");
      assert.equal(await read("d"), "4");
      log.close(false);
    });

    it("logs this turn's writes at once for a reader that asks for one before the turn ends", async function () {
      const queue = new WriteQueue(db, { sync: false }, limits);
      const { log, appends } = countedLog();
      queue.useLog(log);
      const ack = queue.write([put("k", "new")]);
      assert.equal(queue.unapplied("k")?.value?.toString(), "new");
      assert.equal(appends(), 1);
      assert.deepEqual(logged(), ["put k"]);
      await ack;
      await queue.drain();
      log.close(false);
    });

    it("logs a clearing after the writes made before it in the same turn, so a replay clears them", async function () {
      const queue = new WriteQueue(db, { sync: false }, limits);
      const { log } = countedLog();
      queue.useLog(log);
      const ack = queue.write([put("r1", "x"), put("s1", "y")]);
      await queue.applied();
      await queue.clear({ gte: Buffer.from("r"), lt: Buffer.from("s") });
      await ack;
      assert.deepEqual(logged(), ["put r1", "put s1", "clear r"]);
      assert.equal(await read("r1"), undefined);
      assert.equal(await read("s1"), "y");
      log.close(false);
    });

    it("fails every write of a turn whose append fails, and queues none of them", async function () {
      const queue = new WriteQueue(db, { sync: false }, limits);
      const { log } = countedLog();
      queue.useLog(log);
      log.close(false);
      const acks = [queue.write([put("x", "1")]), queue.write([put("y", "2")])];
      for (const ack of acks) await assert.rejects(ack, /write log is closed/);
      assert.equal(queue.unapplied("x"), undefined);
      await queue.drain();
      assert.equal(await read("x"), undefined);
    });
  });
});
