import assert from "node:assert/strict";
import { rollGate, type RollReport } from "../../../driver/index.js";
import type { NodeInfo } from "../../../node/protocol/index.js";
import { healthyNodeInfo } from "../../helpers/node-info.js";

function info(id: string, extra: Partial<NodeInfo> = {}): NodeInfo {
  return healthyNodeInfo(id, { incarnation: "i", epoch: 3, clientUrl: "http://127.0.0.1:1", peerUrl: "https://127.0.0.1:2", ...extra });
}

const healthy = (): RollReport[] => ["a", "b", "c"].map((id) => ({ id, info: info(id) }));

describe("the rolling-restart gate", function () {
  it("lets the next node go when every member is ready, up in every view, and caught up", function () {
    assert.deepEqual(rollGate(healthy()), { healthy: true });
  });

  const cases: [string, (reports: RollReport[]) => void, RegExp][] = [
    ["a member that does not answer", (r) => (r[1] = { id: "b", error: "ECONNREFUSED" }), /b does not answer: ECONNREFUSED/],
    ["a member that is shutting down", (r) => (r[0]!.info!.draining = true), /a is shutting down/],
    ["a member that is not ready", (r) => (r[2]!.info!.ready = false), /c is not ready/],
    ["a member another still counts as down", (r) => (r[0]!.info!.down = ["c"]), /a counts c as down/],
    ["a partition being rebuilt", (r) => (r[1]!.info!.rebuildingPartitions = 2), /rebuilding 2 partitions/],
    ["different ring epochs", (r) => (r[1]!.info!.epoch = 4), /different ring epochs \(3, 4\)/],
    [
      "hints for members above the bound",
      (r) => {
        r[0]!.info!.hints = { count: 80, bytes: 1, byOwner: { b: { count: 80, bytes: 1 } } };
        r[1]!.info!.hints = { count: 30, bytes: 1, byOwner: { c: { count: 30, bytes: 1 } } };
      },
      /110 hints wait for delivery/,
    ],
  ];
  for (const [what, spoil, reason] of cases) {
    it(`holds the roll for ${what}`, function () {
      const reports = healthy();
      spoil(reports);
      const verdict = rollGate(reports);
      assert.equal(verdict.healthy, false);
      assert.match((verdict as { reason: string }).reason, reason);
    });
  }

  it("ignores hints and down marks for names that are no longer members", function () {
    const reports = healthy();
    reports[0]!.info!.hints = { count: 500, bytes: 1, byOwner: { gone: { count: 500, bytes: 1 } } };
    reports[0]!.info!.down = ["gone"];
    assert.deepEqual(rollGate(reports), { healthy: true });
  });
});
