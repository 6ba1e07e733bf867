import assert from "node:assert/strict";
import { Gossiper, PhiAccrualDetector, DEFAULT_FAILURE_DETECTOR } from "../../../node/cluster/index.js";
import { createRing } from "../../../node/ring/index.js";

describe("gossip", function () {
  it("keeps heartbeats of ring members only, so a peer naming made-up members cannot grow its memory", async function () {
    const members = ["node-0", "node-1"].map((id) => ({ id, peerUrl: `https://127.0.0.1:1/${id}`, clientUrl: "http://127.0.0.1:2", incarnation: "i", state: "valid" as const }));
    const ring = createRing({ partitions: 8, members, targetN: 2 });
    const gossiper = new Gossiper({
      self: "node-0",
      ring: () => ring,
      ringHash: () => "h",
      installRing: async () => false,
      peer: () => undefined,
      seedClients: () => [],
      detector: new PhiAccrualDetector(DEFAULT_FAILURE_DETECTOR),
      random: () => 0.5,
      now: () => 1000,
      log: () => undefined,
    });
    const heartbeats: Record<string, [number, number]> = { "node-1": [5, 7] };
    for (let i = 0; i < 4000; i++) heartbeats[`ghost-${i}`] = [1, i];
    const reply = await gossiper.peerHandlers().gossip({ header: { epoch: 1, ringHash: "h", heartbeats }, body: undefined }, "node-1");
    assert.deepEqual(Object.keys(reply.header.heartbeats).sort(), ["node-0", "node-1"]);
    assert.deepEqual(reply.header.heartbeats["node-1"], [5, 7]);
  });
});
