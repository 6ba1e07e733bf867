import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { CoalescedSave } from "../../../lib/coalesced-save.js";

describe("a coalesced save", function () {
  /** A save whose writes record the state they read, each taking `writeMs`. */
  function saving(intervalMs: number, writeMs = 1) {
    let state = 0;
    const written: number[] = [];
    const errors: Error[] = [];
    const save = new CoalescedSave(
      async () => {
        const seen = state;
        await sleep(writeMs);
        written.push(seen);
      },
      intervalMs,
      (err) => errors.push(err),
    );
    return { save, written, errors, change: () => (state += 1) };
  }

  it("serves a burst of requests with a write per interval, the last one holding the last change", async function () {
    const s = saving(100);
    const started = performance.now();
    while (performance.now() - started < 250) {
      s.change();
      s.save.request();
      await sleep(2);
    }
    const last = s.change();
    s.save.request();
    await s.save.flush();
    assert.ok(s.written.length >= 2 && s.written.length <= 5, `${s.written.length} writes for a 250 ms burst at a 100 ms interval`);
    assert.equal(s.written.at(-1), last, "the final write holds every change asked for");
    assert.deepEqual([...s.written].sort((a, b) => a - b), s.written, "writes go out in order");
  });

  it("writes the first request at once, and a flush does not wait out the interval", async function () {
    const s = saving(60_000);
    s.change();
    s.save.request();
    await sleep(20);
    assert.deepEqual(s.written, [1], "the first write did not wait");
    s.change();
    s.save.request();
    const started = performance.now();
    await s.save.flush();
    assert.ok(performance.now() - started < 1000, "flush wrote without waiting a minute");
    assert.deepEqual(s.written, [1, 2]);
  });

  it("reports a failed write and writes again at the next request", async function () {
    let fail = true;
    const errors: Error[] = [];
    let writes = 0;
    const save = new CoalescedSave(
      async () => {
        writes += 1;
        if (fail) throw new Error("disk full");
      },
      0,
      (err) => errors.push(err),
    );
    save.request();
    await save.flush();
    assert.deepEqual(errors.map((e) => e.message), ["disk full"]);
    fail = false;
    save.request();
    await save.flush();
    assert.equal(writes, 2);
    assert.equal(errors.length, 1);
  });
});
