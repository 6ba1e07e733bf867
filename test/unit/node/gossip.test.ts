import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { Gossiper, PhiAccrualDetector, DEFAULT_FAILURE_DETECTOR, DEFAULT_GOSSIP } from "../../../node/cluster/index.js";
import { PeerClient, PeerServer } from "../../../node/peer/index.js";
import { peerHandlers } from "../../helpers/peer-wire.js";
import { createRing } from "../../../node/ring/index.js";

/** node-0's gossiper in a ring of `ids`, with the detector it feeds and a clock the test moves. */
function gossiperOf(ids: string[], start = 1000, peer: (id: string) => PeerClient | undefined = () => undefined, options = DEFAULT_GOSSIP) {
  const members = ids.map((id) => ({ id, peerUrl: `https://127.0.0.1:1/${id}`, clientUrl: "http://127.0.0.1:2", incarnation: "i", state: "valid" as const }));
  const ring = createRing({ partitions: 8, members, targetN: 2 });
  const detector = new PhiAccrualDetector(DEFAULT_FAILURE_DETECTOR);
  const clock = { now: start };
  const gossiper = new Gossiper({
    self: "node-0",
    ring: () => ring,
    ringHash: () => "h",
    installRing: async () => false,
    peer,
    seedClients: () => [],
    detector,
    random: () => 0.5,
    now: () => clock.now,
    log: () => undefined,
  }, options);
  return { gossiper, detector, clock };
}

describe("gossip", function () {
  it("keeps heartbeats of ring members only, so a peer naming made-up members cannot grow its memory", async function () {
    const { gossiper } = gossiperOf(["node-0", "node-1"]);
    const heartbeats: Record<string, [number, number]> = { "node-1": [5, 7] };
    for (let i = 0; i < 4000; i++) heartbeats[`ghost-${i}`] = [1, i];
    const reply = await gossiper.peerHandlers().gossip({ header: { epoch: 1, ringHash: "h", heartbeats }, body: undefined }, "node-1");
    assert.deepEqual(Object.keys(reply.header.heartbeats).sort(), ["node-0", "node-1"]);
    assert.deepEqual(reply.header.heartbeats["node-1"], [5, 7]);
  });

  it("does not count a heartbeat that arrives late as proof of life, so a frozen member's old frames cannot keep it up (seed 1130)", async function () {
    const { gossiper, detector, clock } = gossiperOf(["node-0", "node-1"], 50_000);
    // node-1's clock reads 20 s behind ours; its heartbeats take 5 ms to arrive.
    const send = (sentAt: number) => gossiper.peerHandlers().gossip({ header: { epoch: 1, ringHash: "h", heartbeats: { "node-1": [7, sentAt - 20_000] } }, body: undefined }, "node-1");
    for (let i = 0; i < 20; i++) {
      await send(clock.now - 5);
      clock.now += 500;
    }
    assert.equal(detector.lastHeardAt("node-1"), clock.now - 500);
    // node-1 froze at `frozenAt`; a frame it sent 200 ms before that is delivered by its kernel 6 s later.
    const frozenAt = clock.now;
    clock.now += 6000;
    await send(frozenAt - 200);
    assert.equal(detector.lastHeardAt("node-1"), frozenAt - 500, "the late heartbeat did not feed the detector");
    assert.ok(!detector.isAvailable("node-1", clock.now + 2000), "node-1 is suspected");
    // Alive again: its next heartbeat, sent now, counts.
    await send(clock.now);
    assert.equal(detector.lastHeardAt("node-1"), clock.now);
  });

  it("still counts every newer heartbeat of a sender whose versions count rounds, as older releases send them", async function () {
    const { gossiper, detector, clock } = gossiperOf(["node-0", "node-1"], 50_000);
    for (let round = 1; round <= 40; round++) {
      await gossiper.peerHandlers().gossip({ header: { epoch: 1, ringHash: "h", heartbeats: { "node-1": [7, round] } }, body: undefined }, "node-1");
      assert.equal(detector.lastHeardAt("node-1"), clock.now);
      clock.now += 500;
    }
  });

  it("counts a member that announced it is leaving as leaving until a heartbeat of its next process arrives", async function () {
    const { gossiper } = gossiperOf(["node-0", "node-1", "node-2"]);
    const handlers = gossiper.peerHandlers();
    const gossip = (heartbeats: Record<string, [number, number]>) => handlers.gossip({ header: { epoch: 1, ringHash: "h", heartbeats }, body: undefined }, "node-2");
    await gossip({ "node-1": [100, 5] });
    await handlers.leave({ header: { generation: 100 }, body: undefined }, "node-1");
    assert.equal(gossiper.isLeaving("node-1"), true);
    // Its old process's heartbeats, heard second hand, do not bring it back.
    await gossip({ "node-1": [100, 9] });
    assert.equal(gossiper.isLeaving("node-1"), true);
    await gossip({ "node-1": [200, 1] });
    assert.equal(gossiper.isLeaving("node-1"), false);
    // A stale notice from the old process, arriving late, does not mark the new one.
    await handlers.leave({ header: { generation: 100 }, body: undefined }, "node-1");
    assert.equal(gossiper.isLeaving("node-1"), false);
    // Names outside the ring are never marked.
    await handlers.leave({ header: { generation: 1 }, body: undefined }, "stranger");
    assert.equal(gossiper.isLeaving("stranger"), false);
  });

  it("stops only once the round in flight is over, and starts none after", async function () {
    // node-1's peer port answers gossip only when the test lets it, so the round that asked it hangs meanwhile.
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let exchanges = 0;
    const handlers = peerHandlers({
      gossip: async () => {
        exchanges += 1;
        await released;
        return { header: { epoch: 1, ringHash: "h", heartbeats: { "node-1": [5, 7] } } };
      },
    });
    const token = "t".repeat(16);
    const server = createServer();
    new PeerServer({ token, inFlightMax: 10, log: () => undefined }, handlers).attach(server);
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const client = new PeerClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, { token, timeoutMs: 2000, inFlightMax: 10, reconnectDelayMs: 10, from: "node-0" });
    try {
      // An exchange may take four intervals, so the hung one outlasts everything the test waits for below.
      const { gossiper, detector } = gossiperOf(["node-0", "node-1"], 1000, () => client, { ...DEFAULT_GOSSIP, intervalMs: 250 });
      gossiper.start();
      for (let i = 0; i < 200 && exchanges === 0; i++) await sleep(5);
      assert.ok(exchanges >= 1, "a round is asking node-1");
      // A busy machine can let a second round (they may overlap) start before this line: count what stop finds.
      let stopped = false;
      const stopping = gossiper.stop().then(() => (stopped = true));
      const inFlightAtStop = exchanges;
      await sleep(100);
      assert.equal(stopped, false, "stop waits for the round in flight");
      release();
      await stopping;
      assert.equal(detector.lastHeardAt("node-1"), 1000, "the round finished its work (node-1's heartbeat) before stop returned");
      await sleep(300);
      assert.equal(exchanges, inFlightAtStop, "no round after stop");
    } finally {
      client.close();
      server.closeAllConnections();
      server.close();
    }
  });
});
