import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ClassicLevel } from "classic-level";
import { Store } from "../../../node/storage/index.js";
import { WriteQueue } from "../../../node/storage/write-queue.js";
import type { VersionedRecord } from "../../../node/versioning/types.js";

const valueOf = (r: VersionedRecord | undefined) => r?.siblings[0]?.value?.toString();

describe("store write queue", function () {
  let dir: string;
  beforeEach(function () {
    dir = mkdtempSync(join(tmpdir(), "dynamo-writeq-"));
  });
  afterEach(function () {
    rmSync(dir, { recursive: true, force: true });
  });

  it("writes made in one turn of the event loop share one LevelDB batch, and each resolves only once stored", async function () {
    const db = new ClassicLevel<Buffer, Buffer>(dir, { keyEncoding: "buffer", valueEncoding: "buffer" });
    await db.open();
    try {
      const queue = new WriteQueue(db, { sync: false });
      const keys = Array.from({ length: 50 }, (_, i) => Buffer.from(`k${i}`));
      const stored = keys.map(async (key) => {
        await queue.write([{ type: "put", key, value: key }]);
        assert.deepEqual(await db.get(key), key, "a resolved write is in LevelDB");
      });
      await Promise.all(stored);
      assert.equal(queue.batches, 1);
      assert.equal(queue.ops, 50);
    } finally {
      await db.close();
    }
  });

  it("applies writes to one key in the order they were made, within a batch, across batches and across reopening", async function () {
    const db = new ClassicLevel<Buffer, Buffer>(dir, { keyEncoding: "buffer", valueEncoding: "buffer" });
    await db.open();
    // Two operations per batch at most, so the 200 writes below span a hundred batches, all in flight together.
    const queue = new WriteQueue(db, { sync: false }, { opsMax: 2, bytesMax: 1 << 20 });
    const key = Buffer.from("one-key");
    const writes: Promise<void>[] = [];
    for (let i = 0; i < 200; i++) {
      writes.push(queue.write([{ type: "put", key, value: Buffer.from(String(i)) }]));
      if (i % 7 === 0) await new Promise((resolve) => setImmediate(resolve));
      if (i === 150) writes.push(queue.write([{ type: "del", key }]));
    }
    await Promise.all(writes);
    assert.ok(queue.batches >= 100, `${queue.batches} batches`);
    assert.equal((await db.get(key))?.toString(), "199");
    await db.close();
    const reopened = new ClassicLevel<Buffer, Buffer>(dir, { keyEncoding: "buffer", valueEncoding: "buffer" });
    await reopened.open();
    assert.equal((await reopened.get(key))?.toString(), "199");
    await reopened.close();
  });

  it("keeps a multi-operation write whole, and a failed batch fails every write in it", async function () {
    const db = new ClassicLevel<Buffer, Buffer>(dir, { keyEncoding: "buffer", valueEncoding: "buffer" });
    await db.open();
    const queue = new WriteQueue(db, { sync: false }, { opsMax: 3, bytesMax: 1 << 20 });
    const ops = Array.from({ length: 10 }, (_, i) => ({ type: "put" as const, key: Buffer.from(`m${i}`), value: Buffer.from("v") }));
    await Promise.all([queue.write(ops.slice(0, 2)), queue.write(ops.slice(2))]);
    assert.equal(queue.batches, 2, "the 8-operation write was not split at the 3-operation bound");
    await db.close();
    const failed = await Promise.allSettled([queue.write([ops[0]!]), queue.write([ops[1]!])]);
    assert.deepEqual(failed.map((f) => f.status), ["rejected", "rejected"]);
  });

  it("through the store: every acknowledged write survives the process being killed mid-stream", async function () {
    this.timeout(120_000);
    const child = spawn(process.execPath, ["--import", "tsx", join(import.meta.dirname, "fixtures", "acked-writer.ts"), dir], { stdio: ["ignore", "pipe", "inherit"] });
    const acked: number[] = [];
    let buffered = "";
    const enough = new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (chunk: Buffer) => {
        buffered += chunk.toString();
        const lines = buffered.split("\n");
        buffered = lines.pop()!;
        for (const line of lines) if (/^\d+$/.test(line)) acked.push(Number(line));
        if (acked.length >= 2000) resolve();
      });
      child.on("exit", (code) => reject(new Error(`the writer exited with ${code} after ${acked.length} writes`)));
    });
    await enough;
    child.kill("SIGKILL");
    await new Promise((resolve) => child.once("close", resolve));
    const store = new Store(dir);
    await store.open();
    try {
      for (const n of acked) assert.equal(valueOf(await store.get(n % 16, "b", Buffer.from(`k${n}`))), `value ${n}`, `acknowledged write ${n} is lost`);
      // Each shared key holds a write at least as new as the newest acknowledged one of it.
      for (let s = 0; s < 8; s++) {
        const newestAcked = Math.max(...acked.filter((n) => n % 8 === s));
        const stored = Number(valueOf(await store.get(0, "b", Buffer.from(`shared-${s}`)))!.slice("value ".length));
        assert.ok(stored >= newestAcked, `shared-${s} holds ${stored}, older than the acknowledged ${newestAcked}`);
      }
    } finally {
      await store.close();
    }
  });
});
