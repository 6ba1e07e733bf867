import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { PeriodicTask } from "../../../lib/periodic-task.js";

/** A round that waits until the test lets it finish. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { wait, open };
}

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await sleep(5);
  assert.ok(condition(), what);
}

describe("lib: PeriodicTask", function () {
  it("stop waits for the round in flight, and no round starts after it", async function () {
    const release = gate();
    let started = 0;
    let finished = 0;
    const task = new PeriodicTask({
      intervalMs: 5,
      round: async () => {
        started += 1;
        await release.wait;
        finished += 1;
      },
      onError: () => assert.fail("no round fails"),
    });
    task.start();
    await until(() => started === 1, "a round started");
    let stopped = false;
    const stopping = task.stop().then(() => (stopped = true));
    await sleep(30);
    assert.equal(stopped, false, "stop is still waiting for the round");
    release.open();
    await stopping;
    assert.equal(finished, 1);
    await sleep(30);
    assert.equal(started, 1, "no round after stop");
  });

  it("reports a failed round and carries on with the next", async function () {
    const errors: string[] = [];
    let rounds = 0;
    const task = new PeriodicTask({
      intervalMs: 5,
      round: async () => {
        rounds += 1;
        if (rounds === 1) throw new Error("disk on fire");
      },
      onError: (err) => errors.push(err.message),
    });
    task.start();
    await until(() => rounds >= 3, "rounds go on after a failure");
    await task.stop();
    assert.deepEqual(errors, ["disk on fire"]);
  });

  it("never runs more than roundsMax rounds at once, and runOnce shares a running one when there is no room", async function () {
    const release = gate();
    let running = 0;
    let most = 0;
    const task = new PeriodicTask<number>({
      intervalMs: 2,
      roundsMax: 3,
      round: async () => {
        running += 1;
        most = Math.max(most, running);
        await release.wait;
        running -= 1;
        return 7;
      },
      onError: () => assert.fail("no round fails"),
    });
    task.start();
    await until(() => running === 3, "three rounds run");
    await sleep(30);
    assert.equal(most, 3, "ticks that find three rounds running are skipped");
    const shared = task.runOnce();
    assert.equal(running, 3, "runOnce started no fourth round");
    release.open();
    assert.equal(await shared, 7);
    await task.stop();
  });
});
