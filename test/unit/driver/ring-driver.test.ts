import assert from "node:assert/strict";
import { RingDriver, progressPollMs, type MemberAddress } from "../../../driver/index.js";
import { createRing, rebalanceProgress } from "../../../node/ring/index.js";
import type { Ring } from "../../../node/ring/types.js";
import { ScriptedNodes } from "./scripted-nodes.js";

const Q = 16;
const url = (id: string) => `http://${id}.test:8081`;
const address = (id: string): MemberAddress => ({ id, peerUrl: url(id), clientUrl: `http://${id}.test:8080` });

function ringOf(ids: string[]): Ring {
  return createRing({
    partitions: Q,
    targetN: 3,
    members: ids.map((id) => ({ id, peerUrl: url(id), clientUrl: `http://${id}.test:8080`, incarnation: `inc-${id}`, state: "valid" as const })),
  });
}

function cluster(ids: string[], ring: Ring | undefined): { nodes: ScriptedNodes; driver: RingDriver } {
  const nodes = new ScriptedNodes(url);
  for (const id of ids) nodes.add(id, ring);
  return { nodes, driver: new RingDriver({ admin: nodes.client(), partitions: Q, targetN: 3, log: () => undefined }) };
}

describe("RingDriver: observe, then decide", function () {
  const three = ["a", "b", "c"];

  it("asks each node once who it is and once for its ring, and a settled ring's decision asks nothing more", async function () {
    const { nodes, driver } = cluster(three, ringOf(three));
    const observation = await driver.observe(three.map(address));
    const result = await driver.decide(observation, three);
    assert.equal(result.done, true);
    assert.equal(result.action, undefined);
    assert.deepEqual(nodes.countsById(), { a: { node: 1, ring: 1 }, b: { node: 1, ring: 1 }, c: { node: 1, ring: 1 } });
  });

  it("decides from the observation it is given: the newest ring any node held then, not what the nodes hold now", async function () {
    const { nodes, driver } = cluster(three, ringOf(three));
    const observation = await driver.observe(three.map(address));
    assert.equal(observation.newest?.epoch, 1);
    assert.equal(observation.epochFloor, 1);
    nodes.reset();
    const result = await driver.decide(observation, three);
    assert.equal(result.done, true);
    assert.deepEqual(nodes.countsById(), {}, "a decision on a settled ring makes no admin call");
  });

  it("counts a node that fails either question, or answers under another id, as unreachable, with the reason", async function () {
    const { nodes, driver } = cluster(three, ringOf(three));
    nodes.nodes.get(url("b"))!.down = true;
    nodes.nodes.get(url("c"))!.id = "someone-else";
    const observation = await driver.observe(three.map(address));
    const byId = Object.fromEntries(observation.nodes.map((n) => [n.id, n]));
    assert.equal(byId.a?.reachable, true);
    assert.equal(byId.b?.reachable, false);
    assert.match(byId.b?.reachable === false ? byId.b.error : "", /connection refused/);
    assert.match(byId.c?.reachable === false ? byId.c.error : "", /calls itself someone-else, expected c/);
  });

  it("creates the first ring from one observation and commits it to every node in one call each", async function () {
    const { nodes, driver } = cluster(three, undefined);
    const result = await driver.step(three.map(address), three);
    assert.match(result.action ?? "", /created ring epoch 1 with 3 members/);
    assert.deepEqual(nodes.countsById(), {
      a: { node: 1, ring: 1, installRing: 1 },
      b: { node: 1, ring: 1, installRing: 1 },
      c: { node: 1, ring: 1, installRing: 1 },
    });
  });

  it("commits above the highest epoch any node held when it observed, even one of a ring it does not follow", async function () {
    const { nodes, driver } = cluster(three, undefined);
    // One node holds a ring of a later epoch but an older term: the newest ring is a's, the floor is b's epoch.
    nodes.nodes.get(url("a"))!.ring = { ...ringOf(three), epoch: 3, term: 2 };
    nodes.nodes.get(url("b"))!.ring = { ...ringOf(three), epoch: 9, term: 1 };
    nodes.add("d", undefined);
    const observation = await driver.observe([...three, "d"].map(address));
    assert.equal(observation.newest?.epoch, 3);
    assert.equal(observation.epochFloor, 9);
    const result = await driver.decide(observation, [...three, "d"]);
    assert.equal(result.ring?.epoch, 10);
  });

  it("drives a join to the end, learning the receivers' progress from what each node says of itself, one round of questions per node per step", async function () {
    const { nodes, driver } = cluster(three, ringOf(three));
    nodes.add("d", undefined);
    const four = [...three, "d"];
    const actions: string[] = [];
    for (let i = 0; i < 10; i++) {
      nodes.reset();
      const result = await driver.step(four.map(address), four);
      if (result.action) actions.push(result.action.replace(/^ring epoch \d+: /, ""));
      for (const id of four) {
        assert.equal(nodes.countsById()[id]?.node, 1, `step ${i}: ${id} asked once who it is`);
        // One round of questions per node per step: the receivers' progress comes with the answer to the first.
        assert.equal(nodes.countsById()[id]?.ring, 1, `step ${i}: ${id} asked once for its ring`);
      }
      if (result.done) break;
    }
    assert.deepEqual(actions.map((a) => a.replace(/\d+ transfers/, "N transfers")), ["planned N transfers towards 4 members", "finalized N transfers"]);
  });

  it("lets a node that left stop one short step after the ring without it is final, and then looks again only every few seconds", async function () {
    const four = [...three, "d"];
    const { driver } = cluster(four, ringOf(four));
    const steps = [];
    for (let i = 0; i < 10; i++) {
      const result = await driver.step(four.map(address), three);
      steps.push(result);
      if (result.removable.length > 0) break;
    }
    const finalized = steps.findIndex((s) => s.action?.includes("finalized"));
    assert.ok(finalized >= 0, "the scale-in's transfers were finalized");
    // The settled ring is committed by the finalizing step; waiting the settled interval after it kept the node that
    // left running for five seconds with nothing to do.
    assert.ok(steps[finalized]!.done, "the finalized ring is the settled one");
    assert.ok(steps[finalized]!.retryAfterMs <= 1000, `the step after the finalize comes soon (retryAfterMs ${steps[finalized]!.retryAfterMs})`);
    assert.deepEqual(steps[finalized + 1]?.removable, ["d"], "the next step lets d stop");
    // Once d is gone, the driver has nothing to wait for.
    const settled = await driver.step(three.map(address), three);
    assert.deepEqual(settled.removable, []);
    assert.equal(settled.retryAfterMs, 5000);
  });

  it("looks at a plan four times as often once its receivers' rate says at most a second of streaming is left", function () {
    const pending = [0, 1, 2, 3].map((partition) => ({ partition, from: "a", to: "d", kind: "ownership" as const }));
    const ring = { epoch: 2, pending };
    const done = (partition: number, bytes: number) => ({ partition, to: "d", state: "done", bytes, startedAt: 0, finishedAt: 1000 });
    // Two of four partitions, 2 MB each, done in the first second; the other two have 1 MB each to go at 4 MB/s.
    const halfway = rebalanceProgress(ring, [done(0, 2e6), done(1, 2e6), { partition: 2, to: "d", state: "active", bytes: 1e6, startedAt: 0 }, { partition: 3, to: "d", state: "active", bytes: 1e6, startedAt: 0 }], 1500);
    assert.equal(halfway.etaSeconds, 1);
    assert.equal(progressPollMs(halfway), 250);
    // One of four done: three partitions' worth (6 MB) at 2 MB/s is three seconds.
    const early = rebalanceProgress(ring, [done(0, 2e6)], 1000);
    assert.equal(early.etaSeconds, 3);
    assert.equal(progressPollMs(early), 1000);
    // Nothing done yet: no rate to go by.
    assert.equal(progressPollMs(rebalanceProgress(ring, [], 1000)), 1000);
  });
});
