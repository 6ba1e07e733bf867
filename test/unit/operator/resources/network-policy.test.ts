import assert from "node:assert/strict";
import { NAMESPACE_NAME_LABEL, buildNetworkPolicy, selectorLabels } from "../../../../operator/resources/index.js";
import { dynamoCluster } from "../fixtures.js";

const OPERATOR = { namespace: "dynamo-system", labels: { "app.kubernetes.io/name": "dynamo-operator", "app.kubernetes.io/instance": "dynamo-operator" } };

describe("NetworkPolicy builder", () => {
  it("admits the peer port from the cluster's own pods and the operator's, the client port from the namespace and the operator", () => {
    const policy = buildNetworkPolicy(dynamoCluster(), OPERATOR);
    assert.equal(policy.metadata?.name, "kv");
    assert.equal(policy.metadata?.namespace, "ns");
    assert.deepEqual(policy.spec.podSelector, { matchLabels: selectorLabels("kv") });
    assert.deepEqual(policy.spec.policyTypes, ["Ingress"]);
    assert.deepEqual(policy.spec.ingress, [
      {
        ports: [{ protocol: "TCP", port: 8081 }],
        from: [
          { podSelector: { matchLabels: selectorLabels("kv") } },
          // The cluster's backup and restore Jobs, and no other component of it.
          { podSelector: { matchLabels: { ...selectorLabels("kv"), "app.kubernetes.io/component": "backup" } } },
          { namespaceSelector: { matchLabels: { [NAMESPACE_NAME_LABEL]: "dynamo-system" } }, podSelector: { matchLabels: OPERATOR.labels } },
        ],
      },
      // `podSelector: {}` alone means every pod of the policy's namespace; an empty `from` would mean everyone. The
      // operator reads the nodes' /metrics there for the custom metrics API.
      {
        ports: [{ protocol: "TCP", port: 8080 }],
        from: [{ podSelector: {} }, { namespaceSelector: { matchLabels: { [NAMESPACE_NAME_LABEL]: "dynamo-system" } }, podSelector: { matchLabels: OPERATOR.labels } }],
      },
    ]);
  });

  it("leaves the operator out when it runs outside the cluster (no --pod-labels), so only peers and peerFrom reach 8081", () => {
    const policy = buildNetworkPolicy(dynamoCluster({ network: { peerFrom: [{ ipBlock: { cidr: "198.18.0.0/24" } }] } }), undefined);
    assert.deepEqual(policy.spec.ingress[0]!.from, [
      { podSelector: { matchLabels: selectorLabels("kv") } },
      { podSelector: { matchLabels: { ...selectorLabels("kv"), "app.kubernetes.io/component": "backup" } } },
      { ipBlock: { cidr: "198.18.0.0/24" } },
    ]);
  });

  it("admits clients exactly from spec.network.clientFrom when it is set, and the operator", () => {
    const clientFrom = [
      { namespaceSelector: { matchLabels: { team: "shop" } }, podSelector: { matchLabels: { app: "cart" } } },
      { ipBlock: { cidr: "198.18.0.0/16", except: ["198.18.1.0/24"] } },
    ];
    const policy = buildNetworkPolicy(dynamoCluster({ network: { clientFrom } }), OPERATOR);
    const operator = { namespaceSelector: { matchLabels: { [NAMESPACE_NAME_LABEL]: "dynamo-system" } }, podSelector: { matchLabels: OPERATOR.labels } };
    assert.deepEqual(policy.spec.ingress[1], { ports: [{ protocol: "TCP", port: 8080 }], from: [...clientFrom, operator] });
    assert.deepEqual(buildNetworkPolicy(dynamoCluster({ network: { clientFrom } }), undefined).spec.ingress[1]!.from, clientFrom);
  });

  it("refuses an empty clientFrom, which would shut every client out; leaving it unset means the namespace", () => {
    assert.throws(() => dynamoCluster({ network: { clientFrom: [] } }), /clientFrom/);
  });
});
