import assert from "node:assert/strict";
import { NodeZones, NODE_ZONE_TTL_MS, zoneOfNode } from "../../../../operator/controller/node-zones.js";
import { KubeApiError } from "../../../../operator/kube/api-client.js";
import { memberAddress } from "../../../../operator/reconcile/membership.js";
import { observePod } from "../../../../operator/reconcile/observation.js";

/** A KubeApi `find` over a fixed set of Nodes that counts its calls, or answers 403 like an API server would without RBAC. */
function fakeNodes(labels: Record<string, Record<string, string>>, forbidden = false) {
  const calls: string[] = [];
  return {
    calls,
    api: {
      async find<T>(path: string): Promise<T | undefined> {
        calls.push(path);
        if (forbidden) throw new KubeApiError(403, "Forbidden", `GET ${path}: 403 nodes is forbidden`);
        const name = decodeURIComponent(path.split("/").pop()!);
        return labels[name] ? ({ metadata: { name, labels: labels[name] } } as T) : undefined;
      },
    },
  };
}

describe("zone discovery from Kubernetes Nodes", () => {
  it("reads topology.kubernetes.io/zone, and ignores a missing or malformed label", () => {
    assert.equal(zoneOfNode({ metadata: { labels: { "topology.kubernetes.io/zone": "eu-west-1a" } } }), "eu-west-1a");
    assert.equal(zoneOfNode({ metadata: { labels: { "failure-domain.beta.kubernetes.io/zone": "old" } } }), undefined);
    assert.equal(zoneOfNode({ metadata: { labels: { "topology.kubernetes.io/zone": "-bad zone" } } }), undefined);
    assert.equal(zoneOfNode({ metadata: {} }), undefined);
  });

  it("looks each Node up once per TTL, and leaves Nodes that do not exist without a zone", async () => {
    let now = 1_000;
    const { api, calls } = fakeNodes({ k1: { "topology.kubernetes.io/zone": "a" }, k2: { "topology.kubernetes.io/zone": "b" } });
    const zones = new NodeZones(api, () => now, () => {});
    assert.deepEqual([...(await zones.zonesOf(["k1", "k2", "k1", "gone"]))].sort(), [["k1", "a"], ["k2", "b"]]);
    assert.equal(calls.length, 3);
    await zones.zonesOf(["k1", "k2"]);
    assert.equal(calls.length, 3, "cached");
    now += NODE_ZONE_TTL_MS;
    await zones.zonesOf(["k1"]);
    assert.equal(calls.length, 4, "read again after the TTL");
    assert.equal(calls[0], "/api/v1/nodes/k1");
  });

  it("goes on without zones, saying so once, when the operator may not read Nodes", async () => {
    const { api } = fakeNodes({}, true);
    const logged: string[] = [];
    const zones = new NodeZones(api, () => 0, (m) => logged.push(m));
    assert.equal((await zones.zonesOf(["k1", "k2"])).size, 0);
    assert.equal(logged.length, 1);
    assert.match(logged[0]!, /grant 'get' on nodes/);
  });

  it("hands the pod's zone to the ring with its address", () => {
    const pod = observePod("kv", {
      metadata: { name: "kv-1", uid: "u1" },
      spec: { nodeName: "k1", containers: [] },
      status: { phase: "Running", podIP: "10.0.0.7", containerStatuses: [{ name: "dynamo", state: { running: {} }, image: "", imageID: "", ready: true, restartCount: 0 }] },
    })!;
    assert.equal(pod.nodeName, "k1");
    assert.deepEqual(memberAddress({ ...pod, zone: "a" }, "https"), { id: "kv-1", peerUrl: "https://10.0.0.7:8081", clientUrl: "https://10.0.0.7:8080", zone: "a" });
    assert.equal(memberAddress(pod, "https")?.zone, undefined);
  });
});
