// The generated DynamoCluster CRD on a real API server: it is accepted as a structural schema, fills defaults,
// refuses invalid specs with readable messages (schema and CEL), keeps `partitions` immutable, and serves the
// status and scale subresources with the printer columns of the contract.
import assert from "node:assert/strict";
import { admin, ApiError, createNamespace, deleteNamespace } from "../harness/index.js";
import { installCrd } from "./helpers.js";

describe("operator: DynamoCluster CRD on the API server", () => {
  let ns = "";
  const path = () => `/apis/dynamo.ringkv.dev/v1alpha1/namespaces/${ns}/dynamoclusters`;
  const create = (name: string, spec: unknown) =>
    admin().post<{ spec: Record<string, unknown> }>(path(), { apiVersion: "dynamo.ringkv.dev/v1alpha1", kind: "DynamoCluster", metadata: { name }, spec });
  const refusal = async (name: string, spec: unknown): Promise<string> => {
    try {
      await create(name, spec);
    } catch (err) {
      assert.ok(err instanceof ApiError, String(err));
      assert.equal(err.statusCode, 422);
      return err.message;
    }
    assert.fail(`spec ${JSON.stringify(spec)} was accepted`);
  };

  before(async () => {
    await installCrd();
    ns = await createNamespace("op-crd");
  });
  after(async () => deleteNamespace(ns));

  it("accepts the CRD as structural and fills the defaults", async () => {
    const created = await create("defaults", {});
    assert.equal(created.spec.replicas, 3);
    assert.equal(created.spec.partitions, 256);
    assert.equal(created.spec.image, undefined, "no image by default: the operator fills in its own");
    assert.deepEqual(created.spec.storage, { size: "1Gi" });
    assert.deepEqual(created.spec.podDisruptionBudget, { maxUnavailable: 1 });
    assert.equal(created.spec.paused, false);
  });

  it("refuses r > n with a message naming the field", async () => {
    const message = await refusal("r-gt-n", { buckets: [{ name: "carts", n: 3, r: 4, w: 2 }] });
    assert.match(message, /spec.buckets\[0\].r: Invalid value.*r \(read quorum\) must be <= its n/);
  });

  it("refuses n > replicas, and replicas below the implicit default bucket's n", async () => {
    assert.match(await refusal("n-gt-replicas", { replicas: 3, buckets: [{ name: "big", n: 5, r: 3, w: 3 }] }), /spec.buckets: Invalid value.*every bucket's n must be <= replicas/);
    assert.match(await refusal("too-few", { replicas: 2 }), /replicas must be >= 3/);
    await create("small", { replicas: 1, buckets: [{ name: "default", n: 1, r: 1, w: 1 }] });
  });

  it("refuses partitions that are not a power of two", async () => {
    assert.match(await refusal("q100", { partitions: 100 }), /spec.partitions: Invalid value.*partitions must be a power of two between 1 and 65536/);
  });

  it("refuses duplicate bucket names", async () => {
    const bucket = { name: "dup", n: 3, r: 2, w: 2 };
    assert.match(await refusal("dups", { buckets: [bucket, bucket] }), /bucket names must be unique/);
  });

  it("refuses a change of partitions", async () => {
    await create("fixed", { partitions: 64 });
    try {
      await admin().patch(`${path()}/fixed`, { spec: { partitions: 128 } }, "merge");
      assert.fail("the change was accepted");
    } catch (err) {
      assert.ok(err instanceof ApiError);
      assert.match(err.message, /partitions is immutable/);
    }
    await admin().patch(`${path()}/fixed`, { spec: { replicas: 4 } }, "merge");
  });

  it("serves the scale subresource from spec.replicas and status", async () => {
    await create("scaled", { replicas: 3 });
    const selector = "app.kubernetes.io/component=storage,app.kubernetes.io/instance=scaled,app.kubernetes.io/name=dynamo";
    await admin().patch(`${path()}/scaled/status`, { status: { replicas: 3, selector } }, "merge");
    const scale = await admin().get<{ spec: { replicas: number }; status: { replicas: number; selector: string } }>(`${path()}/scaled/scale`);
    assert.deepEqual([scale.spec.replicas, scale.status.replicas, scale.status.selector], [3, 3, selector]);
    await admin().patch(`${path()}/scaled/scale`, { spec: { replicas: 5 } }, "merge");
    const after = await admin().get<{ spec: { replicas: number } }>(`${path()}/scaled`);
    assert.equal(after.spec.replicas, 5);
  });

  it("refuses a /scale below the largest bucket's n, as `kubectl scale --replicas=2` would send", async () => {
    await create("floor", { replicas: 3 });
    try {
      await admin().patch(`${path()}/floor/scale`, { spec: { replicas: 2 } }, "merge");
      assert.fail("the scale to 2 was accepted");
    } catch (err) {
      assert.ok(err instanceof ApiError, String(err));
      assert.equal(err.statusCode, 422);
      assert.match(err.message, /replicas must be >= 3/);
    }
  });
});
