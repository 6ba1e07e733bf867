import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import { z } from "zod";
import { CUSTOM_METRICS } from "../../../operator/custom-metrics/index.js";
import {
  API_VERSION,
  BACKUP_KIND,
  KIND,
  SCHEDULED_BACKUP_KIND,
  largestN,
  parseDynamoBackup,
  parseDynamoCluster,
  parseDynamoScheduledBackup,
  specProblems,
  type DynamoCluster,
} from "../../../operator/api/index.js";

const EXAMPLES_DIR = fileURLToPath(new URL("../../../examples/", import.meta.url));

interface ExampleObject {
  file: string;
  object: { apiVersion?: string; kind?: string; metadata?: { name?: string; namespace?: string } } & Record<string, unknown>;
}

/** Every document of every examples/*.yaml, read as kubectl and helm read YAML: 1.1, where a bare `n` key is false. */
function loadExamples(): ExampleObject[] {
  return readdirSync(EXAMPLES_DIR)
    .filter((f) => f.endsWith(".yaml"))
    .sort()
    .flatMap((file) =>
      parseAllDocuments(readFileSync(join(EXAMPLES_DIR, file), "utf8"), { version: "1.1" }).map((doc) => {
        assert.equal(doc.errors.length, 0, `${file}: ${doc.errors[0]?.message}`);
        return { file, object: doc.toJS() };
      }),
    );
}

/**
 * The parts of autoscaling/v2 HorizontalPodAutoscaler the example uses, strict so a misspelt field fails here
 * instead of being dropped by the API server.
 */
const hpaSchema = z
  .object({
    apiVersion: z.literal("autoscaling/v2"),
    kind: z.literal("HorizontalPodAutoscaler"),
    metadata: z.object({ name: z.string() }).strict(),
    spec: z
      .object({
        scaleTargetRef: z.object({ apiVersion: z.string(), kind: z.string(), name: z.string() }).strict(),
        minReplicas: z.number().int().min(1),
        maxReplicas: z.number().int().min(1),
        metrics: z.array(
          z.union([
            z
              .object({
                type: z.literal("Resource"),
                resource: z
                  .object({
                    name: z.enum(["cpu", "memory"]),
                    target: z
                      .object({
                        type: z.enum(["Utilization", "AverageValue"]),
                        averageUtilization: z.number().int().optional(),
                        averageValue: z.string().optional(),
                      })
                      .strict(),
                  })
                  .strict(),
              })
              .strict(),
            // A metric of the custom metrics API the operator serves (operator/custom-metrics), by one of its names.
            z
              .object({
                type: z.literal("Pods"),
                pods: z
                  .object({
                    metric: z.object({ name: z.enum(CUSTOM_METRICS.map((m) => m.name) as [string, ...string[]]) }).strict(),
                    target: z.object({ type: z.literal("AverageValue"), averageValue: z.string().regex(/^\d+(\.\d+)?(m|k|M|G|Ki|Mi|Gi|Ti)?$/) }).strict(),
                  })
                  .strict(),
              })
              .strict(),
          ]),
        ),
        behavior: z
          .object({
            scaleUp: z.lazy(() => scalingRulesSchema).optional(),
            scaleDown: z.lazy(() => scalingRulesSchema),
          })
          .strict(),
      })
      .strict(),
  })
  .strict();

const scalingRulesSchema = z
  .object({
    stabilizationWindowSeconds: z.number().int().min(0).max(3600),
    selectPolicy: z.enum(["Max", "Min", "Disabled"]).optional(),
    policies: z.array(z.object({ type: z.enum(["Pods", "Percent"]), value: z.number().int().min(1), periodSeconds: z.number().int().min(1).max(1800) }).strict()),
  })
  .strict();

describe("examples/", () => {
  const examples = loadExamples();
  const clusters = new Map<string, DynamoCluster>();
  for (const { object } of examples) {
    if (object.kind === KIND) clusters.set(String(object.metadata?.name), parseDynamoCluster(object));
  }

  it("holds only DynamoClusters, backups and HorizontalPodAutoscalers, none pinned to a namespace", () => {
    assert.ok(examples.length > 0);
    const kinds = [KIND, BACKUP_KIND, SCHEDULED_BACKUP_KIND, "HorizontalPodAutoscaler"];
    for (const { file, object } of examples) {
      assert.ok(kinds.includes(String(object.kind)), `${file}: unexpected kind ${object.kind}`);
      assert.equal(object.metadata?.namespace, undefined, `${file}: examples apply to whichever namespace the user picks`);
    }
  });

  it("every DynamoCluster passes the schema and the rules the API server enforces", () => {
    for (const { file, object } of examples.filter((e) => e.object.kind === KIND)) {
      assert.equal(object.apiVersion, API_VERSION, file);
      const cluster = parseDynamoCluster(object);
      assert.deepEqual(specProblems(cluster.spec), [], `${file}: ${specProblems(cluster.spec).join("; ")}`);
    }
  });

  it("backs up an example cluster and restores it into a new one, each passing its schema", () => {
    const backups = examples.filter((e) => e.object.kind === BACKUP_KIND).map((e) => parseDynamoBackup(e.object));
    const schedules = examples.filter((e) => e.object.kind === SCHEDULED_BACKUP_KIND).map((e) => parseDynamoScheduledBackup(e.object));
    assert.ok(backups.length > 0 && schedules.length > 0);
    for (const b of [...backups.map((b) => b.spec), ...schedules.map((s) => s.spec.template)]) assert.ok(clusters.has(b.cluster.name), `no example cluster ${b.cluster.name}`);
    const restored = [...clusters.values()].filter((c) => c.spec.bootstrap?.fromBackup);
    assert.equal(restored.length, 1);
    assert.ok(backups.some((b) => b.metadata.name === restored[0]!.spec.bootstrap!.fromBackup!.backup));
  });

  it("has a minimal cluster that sets nothing but its size", () => {
    const minimal = examples.filter((e) => e.file === "minimal.yaml");
    assert.equal(minimal.length, 1);
    assert.deepEqual(Object.keys((minimal[0]?.object as { spec: object }).spec), ["replicas"]);
  });

  it("covers the paper's use cases: a cart bucket with siblings, a session store with lww, a read-heavy catalogue", () => {
    const buckets = [...clusters.values()].flatMap((c) => c.spec.buckets);
    const has = (n: number, r: number, w: number, reconciliation?: string) =>
      buckets.some((b) => b.n === n && b.r === r && b.w === w && (reconciliation === undefined || b.reconciliation === reconciliation));
    assert.ok(has(3, 2, 2, "siblings"), "no shopping-cart bucket (n=3, r=2, w=2, siblings)");
    assert.ok(buckets.some((b) => b.reconciliation === "lww" && b.name === "sessions"), "no session store with lww");
    assert.ok(has(3, 1, 3), "no read-heavy catalogue bucket (r=1, w=3)");
  });

  describe("the HorizontalPodAutoscalers", () => {
    const hpas = examples.filter((e) => e.object.kind === "HorizontalPodAutoscaler");

    it("are valid autoscaling/v2 objects targeting a DynamoCluster from the examples through /scale", () => {
      assert.deepEqual(hpas.map((h) => h.file), ["hpa-requests.yaml", "hpa.yaml"]);
      for (const { file, object } of hpas) {
        const hpa = hpaSchema.parse(object);
        assert.equal(hpa.spec.scaleTargetRef.apiVersion, API_VERSION, file);
        assert.equal(hpa.spec.scaleTargetRef.kind, KIND, file);
        const target = clusters.get(hpa.spec.scaleTargetRef.name);
        assert.ok(target, `${file}: no example DynamoCluster named ${hpa.spec.scaleTargetRef.name}`);
        assert.ok(hpa.spec.maxReplicas > hpa.spec.minReplicas, file);
      }
    });

    it("never scale below the largest n, which the API server would refuse", () => {
      for (const { file, object } of hpas) {
        const hpa = hpaSchema.parse(object);
        const target = clusters.get(hpa.spec.scaleTargetRef.name) as DynamoCluster;
        assert.ok(hpa.spec.minReplicas >= largestN(target.spec), `${file}: minReplicas ${hpa.spec.minReplicas} < largest n ${largestN(target.spec)}`);
      }
    });

    it("scale down conservatively: a long stabilization window and one pod per period", () => {
      for (const { file, object } of hpas) {
        const { scaleDown } = hpaSchema.parse(object).spec.behavior;
        assert.ok(scaleDown.stabilizationWindowSeconds >= 300, `${file}: scale-down stabilization shorter than five minutes`);
        assert.ok(scaleDown.policies.length > 0, file);
        for (const policy of scaleDown.policies) {
          assert.equal(policy.type, "Pods", file);
          assert.equal(policy.value, 1, file);
          assert.ok(policy.periodSeconds >= 300, `${file}: more than one node removed per five minutes`);
        }
        assert.notEqual(scaleDown.selectPolicy, "Max", `${file}: Max would pick the fastest policy`);
      }
    });
  });
});
