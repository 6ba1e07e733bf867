import assert from "node:assert/strict";
import { QuorumTracker } from "../../../node/replication/index.js";

async function outcomeWithin<T>(promise: Promise<T>): Promise<T | "pending"> {
  return Promise.race([promise, new Promise<"pending">((r) => setImmediate(() => r("pending")))]);
}

describe("quorum bookkeeping", function () {
  it("succeeds once W replies arrived, before the slowest replica answers", async function () {
    const q = new QuorumTracker<number>({ total: 2, primaries: 0 }, 3, 3);
    q.success("a", true, 1);
    assert.equal(await outcomeWithin(q.done), "pending");
    q.success("b", true, 2);
    assert.deepEqual(await outcomeWithin(q.done), { ok: true });
    assert.equal(q.outstanding, 1);
  });

  it("fails as soon as too many replicas failed for a quorum to be possible", async function () {
    const q = new QuorumTracker<number>({ total: 2, primaries: 0 }, 3, 3);
    q.failure("a", true, new Error("timed out after 1500 ms"));
    assert.equal(await outcomeWithin(q.done), "pending");
    q.failure("b", true, new Error("connection refused"));
    const outcome = await outcomeWithin(q.done);
    assert.ok(outcome !== "pending" && !outcome.ok);
    assert.match(outcome.reason, /2 of 3 replicas failed; 2 needed \(a: timed out after 1500 ms\)/, "the reason names the first failure");
  });

  it("counts primaries separately when pr/pw asks for them", async function () {
    const q = new QuorumTracker<number>({ total: 2, primaries: 2 }, 3, 2);
    q.success("fallback", false, 0);
    q.success("p1", true, 1);
    assert.equal(await outcomeWithin(q.done), "pending", "one primary is not enough for pw=2");
    q.failure("p2", true, new Error("down"));
    const outcome = await outcomeWithin(q.done);
    assert.ok(outcome !== "pending" && !outcome.ok && /primaries needed/.test(outcome.reason));
  });

  it("tells when every replica has answered, once, and at once when they already have", function () {
    const q = new QuorumTracker<number>({ total: 1, primaries: 0 }, 2, 2);
    let calls = 0;
    q.onAllAnswered(() => (calls += 1));
    q.success("a", true, 1);
    assert.equal(calls, 0, "one replica is still out");
    q.failure("b", true, new Error("late"));
    assert.equal(calls, 1);
    let late = 0;
    q.onAllAnswered(() => (late += 1));
    assert.equal(late, 1);
  });

  it("settles before it calls back, so a callback that throws does not hold the request", async function () {
    const q = new QuorumTracker<number>({ total: 2, primaries: 0 }, 2, 2);
    q.onAllAnswered(() => {
      throw new Error("hint store broken");
    });
    q.success("a", true, 1);
    assert.throws(() => q.success("b", true, 2), /hint store broken/);
    assert.deepEqual(await outcomeWithin(q.done), { ok: true });
  });

  it("fails at its deadline saying how many replies came in time, and counts no reply after it", async function () {
    const q = new QuorumTracker<number>({ total: 2, primaries: 0 }, 3, 3);
    q.success("a", true, 1);
    q.expireAfter(20);
    assert.equal(await outcomeWithin(q.done), "pending");
    const late = { ok: false, reason: "1 of the 2 replies needed came within 20 ms" };
    assert.deepEqual(await q.done, late);
    q.success("b", true, 2);
    assert.deepEqual(await q.done, late, "settled once");
    const primaries = new QuorumTracker<number>({ total: 2, primaries: 2 }, 3, 2);
    primaries.success("fallback", false, 0);
    primaries.success("p1", true, 1);
    primaries.expireAfter(1);
    assert.deepEqual(await primaries.done, { ok: false, reason: "2 of the 2 replies needed (1 of the 2 from primaries) came within 1 ms" });
  });

  it("clears its deadline once the outcome is known", function () {
    // Counted without an await between, so that the test runner's own timers do not come and go in between.
    const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
    const before = timers();
    const q = new QuorumTracker<number>({ total: 1, primaries: 0 }, 3, 3);
    q.expireAfter(60_000);
    assert.equal(timers(), before + 1);
    q.success("a", true, 1);
    assert.equal(timers(), before, "no timer is left behind to keep the process up for a minute");
    const settled = new QuorumTracker<number>({ total: 2, primaries: 0 }, 1, 1);
    settled.expireAfter(60_000);
    assert.equal(timers(), before, "a tracker settled from the start sets none");
  });
});
