import assert from "node:assert/strict";
import { UsageError } from "../../../../lib/command-line.js";
import { operatorPods } from "../../../../operator/main.js";

describe("dynamo operator --pod-labels", () => {
  it("reads the operator pods' labels and namespace, which the clusters' NetworkPolicies admit to the peer port", () => {
    assert.deepEqual(operatorPods("app.kubernetes.io/name=dynamo-operator, app.kubernetes.io/instance=ops", "dynamo-system"), {
      namespace: "dynamo-system",
      labels: { "app.kubernetes.io/name": "dynamo-operator", "app.kubernetes.io/instance": "ops" },
    });
  });

  it("is nothing without the flag: an operator outside the cluster has no pods to admit", () => {
    assert.equal(operatorPods(undefined, "dynamo-system"), undefined);
  });

  it("refuses a label that is not key=value, no labels, and a missing POD_NAMESPACE, naming the problem", () => {
    assert.throws(() => operatorPods("app", "ns"), (err: Error) => err instanceof UsageError && /'app' is not a label key=value/.test(err.message));
    assert.throws(() => operatorPods(" , ", "ns"), /names no label/);
    assert.throws(() => operatorPods("a=b", undefined), /POD_NAMESPACE/);
  });
});
