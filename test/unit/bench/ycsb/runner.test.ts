import assert from "node:assert/strict";
import { seededRandom } from "../../../../lib/random.js";
import { loadRecords, runWorkload, type RunOptions } from "../../../../bench/ycsb/runner.js";
import { genericErrorKind, RecordMissingError, snakeCase, type KvTarget } from "../../../../bench/ycsb/target.js";
import { WORKLOADS } from "../../../../bench/ycsb/workloads.js";

/** A target that answers at once and remembers every request; reads of `failing` keys fail with kind `boom`. */
function recordingTarget(failing = new Set<string>()): KvTarget & { requests: string[] } {
  const requests: string[] = [];
  return {
    requests,
    async read(key) {
      requests.push(`read ${key}`);
      await Promise.resolve();
      if (failing.has(key)) throw Object.assign(new Error("boom"), { code: "boom" });
    },
    async insert(key) {
      requests.push(`insert ${key}`);
      await Promise.resolve();
    },
    async update(key) {
      requests.push(`update ${key}`);
      await Promise.resolve();
    },
    errorKind: genericErrorKind,
  };
}

function options(seed: number, extra: Partial<RunOptions> = {}): RunOptions {
  return { clients: 1, records: 100, seconds: 0.05, warmupSeconds: 0, values: [Buffer.from("v")], random: seededRandom(seed), ...extra };
}

describe("YCSB runner over a KvTarget", function () {
  it("sends two targets the same key and operation sequence from the same seed", async function () {
    const first = recordingTarget();
    const second = recordingTarget();
    await runWorkload(first, WORKLOADS.A, options(99));
    await runWorkload(second, WORKLOADS.A, options(99));
    const shorter = Math.min(first.requests.length, second.requests.length);
    assert.ok(shorter > 20, `only ${shorter} requests were made`);
    assert.deepEqual(first.requests.slice(0, shorter), second.requests.slice(0, shorter));
    assert.ok(first.requests.some((r) => r.startsWith("update ")) && first.requests.some((r) => r.startsWith("read ")));
    const third = recordingTarget();
    await runWorkload(third, WORKLOADS.A, options(100));
    assert.notDeepEqual(third.requests.slice(0, 20), first.requests.slice(0, 20), "another seed, another sequence");
  });

  it("counts failures by the target's kind and keeps them out of the successes", async function () {
    const target = recordingTarget(new Set(["user0", "user1", "user2", "user3", "user4"]));
    const result = await runWorkload(target, WORKLOADS.C, options(5, { records: 5 }));
    assert.equal(result.total.count, 0);
    assert.ok((result.total.errors.boom ?? 0) > 0);
    assert.deepEqual(result.operations[0]!.errors, result.total.errors);
  });

  it("adds reads and updates up into the run's total", async function () {
    const result = await runWorkload(recordingTarget(), WORKLOADS.A, options(3));
    const [reads, updates] = result.operations;
    assert.equal(result.total.count, reads!.count + updates!.count);
  });

  it("opens the measured window once after the warm-up and closes it once", async function () {
    const events: Array<[string, number]> = [];
    const started = performance.now();
    await runWorkload(recordingTarget(), WORKLOADS.C, options(1, {
      warmupSeconds: 0.05,
      window: { onStart: () => events.push(["start", performance.now() - started]), onEnd: () => events.push(["end", performance.now() - started]) },
    }));
    assert.deepEqual(events.map(([name]) => name), ["start", "end"]);
    assert.ok(events[0]![1] >= 45, `the window opened after ${events[0]![1]} ms, before the 50 ms warm-up ended`);
  });

  it("loads every record once with blind inserts", async function () {
    const target = recordingTarget();
    const result = await loadRecords(target, options(1, { clients: 4, records: 50 }));
    assert.equal(result.total.count, 50);
    assert.deepEqual([...target.requests].sort(), Array.from({ length: 50 }, (_, i) => `insert user${i}`).sort());
  });

  it("measures the load over its whole run: the window opens before the first insert and closes after the last", async function () {
    const target = recordingTarget();
    const events: string[] = [];
    await loadRecords(target, options(1, {
      clients: 2,
      records: 10,
      window: { onStart: () => events.push(`start after ${target.requests.length}`), onEnd: () => events.push(`end after ${target.requests.length}`) },
    }));
    assert.deepEqual(events, ["start after 0", "end after 10"]);
  });
});

describe("error kinds", function () {
  it("uses an error's string code, else its class name in snake case", function () {
    assert.equal(genericErrorKind(new RecordMissingError("user1")), "not_found");
    class OperationTimedOutError extends Error {}
    assert.equal(genericErrorKind(new OperationTimedOutError("late")), "operation_timed_out");
    class GRPCDeadlineExceededError extends Error {}
    assert.equal(genericErrorKind(new GRPCDeadlineExceededError("late")), "grpc_deadline_exceeded");
    assert.equal(genericErrorKind("a string"), "exception");
    assert.equal(snakeCase("unavailableException"), "unavailable_exception");
  });
});
