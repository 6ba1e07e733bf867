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

  it("tells when every replica has answered", async function () {
    const q = new QuorumTracker<number>({ total: 1, primaries: 0 }, 2, 2);
    q.success("a", true, 1);
    assert.equal(await outcomeWithin(q.allAnswered), "pending");
    q.failure("b", true, new Error("late"));
    assert.equal(await outcomeWithin(q.allAnswered), undefined);
  });
});
