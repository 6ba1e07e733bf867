// The controller manager's HPA controller is running and reads the /scale subresource of its
// target. There is no metrics server here, so it cannot compute a recommendation, but condition
// AbleToScale=True shows it fetched the target's scale, which is what the operator's CRD exposes.
import assert from "node:assert/strict";
import { admin, createNamespace, deleteNamespace } from "./fixture.js";
import { testContainer } from "./test-image.js";
import { waitFor } from "./wait.js";

interface Hpa {
  status?: { conditions?: { type: string; status: string; reason?: string }[]; currentReplicas?: number };
}

describe("horizontal pod autoscaling", () => {
  let ns: string;

  before(async () => {
    ns = await createNamespace("hpa");
  });

  after(async () => {
    await deleteNamespace(ns);
  });

  it("has the HPA controller read a StatefulSet's scale subresource", async () => {
    const labels = { app: "scaled" };
    await admin().post(`/apis/apps/v1/namespaces/${ns}/statefulsets`, {
      metadata: { name: "scaled" },
      spec: {
        replicas: 1,
        serviceName: "scaled",
        selector: { matchLabels: labels },
        template: { metadata: { labels }, spec: { containers: [testContainer({ resources: { requests: { cpu: "100m" } } })] } },
      },
    });
    await admin().post(`/apis/autoscaling/v2/namespaces/${ns}/horizontalpodautoscalers`, {
      metadata: { name: "scaled" },
      spec: {
        scaleTargetRef: { apiVersion: "apps/v1", kind: "StatefulSet", name: "scaled" },
        minReplicas: 1,
        maxReplicas: 3,
        metrics: [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 80 } } }],
      },
    });
    const hpa = await waitFor(
      "the HPA to report AbleToScale",
      async () => {
        const current = await admin().get<Hpa>(`/apis/autoscaling/v2/namespaces/${ns}/horizontalpodautoscalers/scaled`);
        return current.status?.conditions?.some((c) => c.type === "AbleToScale") ? current : undefined;
      },
      { timeoutMs: 60_000 },
    );
    const able = hpa.status?.conditions?.find((c) => c.type === "AbleToScale");
    assert.equal(able?.status, "True", `AbleToScale: ${JSON.stringify(able)}`);
    assert.equal(hpa.status?.currentReplicas, 1);
  });
});
