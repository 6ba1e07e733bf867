import assert from "node:assert/strict";
import { WorkQueue, type Timers } from "../../../../operator/controller/index.js";

/** Timers that fire only when the test says so. */
class ManualTimers implements Timers {
  pending: { fn: () => void; ms: number; id: number }[] = [];
  private next = 0;
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.next++;
    this.pending.push({ fn, ms, id });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.pending = this.pending.filter((t) => t.id !== handle);
  }
  fireAll(): void {
    const due = this.pending;
    this.pending = [];
    for (const t of due) t.fn();
  }
}

const options = { workers: 2, keysMax: 3, backoffBaseMs: 100, backoffMaxMs: 1000 };

describe("work queue", () => {
  it("handles a key once however many times it is added before a worker takes it", async () => {
    const seen: string[] = [];
    const queue = new WorkQueue(async (key) => void seen.push(key), { ...options, workers: 1 }, {}, new ManualTimers());
    queue.add("a");
    queue.add("b");
    queue.add("b");
    queue.add("b");
    await queue.idle();
    assert.deepEqual(seen, ["a", "b"]);
  });

  it("never runs one key on two workers, and runs it again when it was added meanwhile", async () => {
    let running = 0;
    let maxRunning = 0;
    let calls = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const queue = new WorkQueue(
      async () => {
        calls++;
        running++;
        maxRunning = Math.max(maxRunning, running);
        if (calls === 1) await gate;
        running--;
        return undefined;
      },
      options,
      {},
      new ManualTimers(),
    );
    queue.add("a");
    await new Promise((r) => setImmediate(r));
    queue.add("a");
    queue.add("a");
    release();
    await queue.idle();
    await queue.idle();
    assert.equal(maxRunning, 1);
    assert.equal(calls, 2);
  });

  it("retries a failing key with exponential backoff, reset by a success", async () => {
    const timers = new ManualTimers();
    const results: string[] = [];
    let failuresLeft = 3;
    const queue = new WorkQueue(
      async () => {
        if (failuresLeft-- > 0) throw new Error("boom");
        return undefined;
      },
      options,
      { onResult: (_k, outcome) => results.push(outcome) },
      timers,
    );
    queue.add("a");
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      await queue.idle();
      delays.push(...timers.pending.map((t) => t.ms));
      timers.fireAll();
    }
    assert.deepEqual(delays, [100, 200, 400]);
    assert.deepEqual(results, ["error", "error", "error", "ok"]);
    assert.equal(queue.backoffMs(10), 1000, "capped");
  });

  it("calls a handler again after the delay it asks for", async () => {
    const timers = new ManualTimers();
    let calls = 0;
    const queue = new WorkQueue(async () => ({ requeueAfterMs: calls++ === 0 ? 250 : undefined }), options, {}, timers);
    queue.add("a");
    await queue.idle();
    assert.deepEqual(timers.pending.map((t) => t.ms), [250]);
    timers.fireAll();
    await queue.idle();
    assert.equal(calls, 2);
    assert.equal(timers.pending.length, 0);
  });

  it("drops keys past its bound and says so", async () => {
    const dropped: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const queue = new WorkQueue(async () => void (await gate), { ...options, workers: 1 }, { onDropped: (k) => dropped.push(k) }, new ManualTimers());
    for (const key of ["a", "b", "c", "d", "e"]) queue.add(key);
    assert.deepEqual(dropped, ["e"], "a is being handled; b, c, d fill the queue");
    release();
    await queue.idle();
  });
});
