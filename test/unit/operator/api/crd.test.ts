import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { z } from "zod";
import {
  BACKUP_CRD,
  SCHEDULED_BACKUP_CRD,
  SchemaConversionError,
  buildCrd,
  clusterSpecSchema,
  largestN,
  openApiSchema,
  parseDynamoCluster,
  renderCrdYaml,
  specProblems,
  toStructural,
  type JsonSchema,
} from "../../../../operator/api/index.js";

const committed = readFileSync(new URL("../../../../crds/dynamoclusters.yaml", import.meta.url), "utf8");

/** Walks every schema node with its path. */
function walk(node: JsonSchema, visit: (node: JsonSchema, path: string) => void, path = ""): void {
  visit(node, path);
  for (const [name, child] of Object.entries((node.properties as Record<string, JsonSchema> | undefined) ?? {})) walk(child, visit, `${path}.${name}`);
  if (node.items) walk(node.items as JsonSchema, visit, `${path}[]`);
  if (typeof node.additionalProperties === "object") walk(node.additionalProperties as JsonSchema, visit, `${path}.*`);
}

describe("DynamoCluster CRD", () => {
  it("the committed crds/dynamoclusters.yaml matches a fresh generation (run npm run gen:crds)", () => {
    assert.equal(committed, renderCrdYaml());
  });

  it("generation is deterministic", () => {
    assert.equal(renderCrdYaml(), renderCrdYaml());
  });

  it("fixes the names, subresources and printer columns of the contract", () => {
    const crd = parse(committed);
    assert.equal(crd.metadata.name, "dynamoclusters.dynamo.ringkv.dev");
    assert.deepEqual(crd.spec.names.shortNames, ["dyn"]);
    const version = crd.spec.versions[0];
    assert.equal(version.name, "v1alpha1");
    assert.deepEqual(version.subresources.scale, {
      specReplicasPath: ".spec.replicas",
      statusReplicasPath: ".status.replicas",
      labelSelectorPath: ".status.selector",
    });
    assert.deepEqual(version.subresources.status, {});
    assert.deepEqual(
      version.additionalPrinterColumns.map((c: { name: string }) => c.name),
      ["Replicas", "Ready", "Phase", "Epoch", "Progress", "Updated", "Age", "Message"],
    );
  });

  it("is a structural schema: every node typed, no additionalProperties beside properties, no $schema", () => {
    walk(openApiSchema(), (node, path) => {
      const exempt = node["x-kubernetes-int-or-string"] === true || node["x-kubernetes-preserve-unknown-fields"] === true;
      assert.ok(exempt || typeof node.type === "string", `${path} has a type`);
      assert.ok(!(node.properties && "additionalProperties" in node), `${path} has not both properties and additionalProperties`);
      assert.ok(!("$schema" in node), `${path} has no $schema`);
      if (node.anyOf) assert.deepEqual(node.anyOf, [{ type: "integer" }, { type: "string" }], `${path} uses only the int-or-string anyOf`);
    });
  });

  it("carries the CEL rules of the contract on the nodes they guard", () => {
    const spec = (openApiSchema().properties as Record<string, JsonSchema>).spec as JsonSchema;
    const props = spec.properties as Record<string, JsonSchema>;
    const rules = (node: JsonSchema | undefined) => ((node?.["x-kubernetes-validations"] as { rule: string }[] | undefined) ?? []).map((r) => r.rule);
    assert.ok(rules(props.partitions).includes("self == oldSelf"));
    assert.ok(rules(props.partitions).some((r) => r.includes("65536")));
    assert.ok(rules(props.buckets).some((r) => r.includes("exists_one")));
    assert.deepEqual(rules(props.buckets?.items as JsonSchema), ["self.r <= self.n", "self.w <= self.n"]);
    assert.ok(rules(spec).some((r) => r.includes("b.n <= self.replicas")));
  });

  it("has the same defaults as the zod schema", () => {
    const defaults = clusterSpecSchema.parse({});
    const props = ((openApiSchema().properties as Record<string, JsonSchema>).spec as JsonSchema).properties as Record<string, JsonSchema>;
    for (const key of ["replicas", "partitions", "image", "paused", "unreachableReplaceAfterSeconds"] as const) {
      assert.deepEqual(props[key]?.default, defaults[key], key);
    }
    assert.deepEqual(props.podDisruptionBudget?.default, defaults.podDisruptionBudget);
    assert.deepEqual(props.persistentVolumeClaimRetentionPolicy?.default, defaults.persistentVolumeClaimRetentionPolicy);
  });

  it("refuses to convert what has no structural equivalent", () => {
    assert.throws(() => toStructural({ type: "object", properties: { x: {} } }), SchemaConversionError);
    assert.throws(() => toStructural({ type: "object", additionalProperties: {} }), SchemaConversionError);
    assert.throws(() => toStructural({ oneOf: [{ type: "string" }] }), SchemaConversionError);
    const loose = z.toJSONSchema(z.object({ a: z.string() }), { target: "openapi-3.0" }) as JsonSchema;
    assert.ok(!("additionalProperties" in toStructural(loose)));
  });

  it("builds the same object it renders, read as YAML 1.2 or as YAML 1.1 (kubectl, Helm)", () => {
    assert.deepEqual(parse(committed), buildCrd());
    assert.deepEqual(parse(committed, { version: "1.1" }), buildCrd(), "a bare n is a boolean in YAML 1.1");
  });
});

describe("DynamoCluster spec", () => {
  const cluster = (spec: unknown) => ({ metadata: { name: "x", namespace: "ns" }, spec });

  it("fills defaults when parsing an object from the API server", () => {
    const parsed = parseDynamoCluster(cluster({}));
    assert.equal(parsed.spec.replicas, 3);
    assert.equal(parsed.spec.partitions, 256);
    assert.equal(parsed.spec.storage.size, "1Gi");
    assert.equal(parsed.spec.podDisruptionBudget.maxUnavailable, 1);
  });

  it("names the field of every problem", () => {
    assert.throws(() => parseDynamoCluster(cluster({ replicas: 0 })), /spec\.replicas/);
  });

  it("the largest n counts the implicit default bucket unless it is redefined", () => {
    assert.equal(largestN({ buckets: [] }), 3);
    assert.equal(largestN({ buckets: [{ name: "default", n: 1, r: 1, w: 1, reconciliation: "siblings" }] }), 1);
    assert.equal(largestN({ buckets: [{ name: "big", n: 5, r: 3, w: 3, reconciliation: "lww" }] }), 5);
  });

  it("reports the problems the CEL rules guard against", () => {
    const spec = clusterSpecSchema.parse({
      replicas: 3,
      partitions: 100,
      buckets: [
        { name: "a", n: 4, r: 5, w: 1 },
        { name: "a", n: 2, r: 1, w: 1 },
      ],
    });
    const problems = specProblems(spec).join("\n");
    assert.match(problems, /r \(5\) must be <= n \(4\)/);
    assert.match(problems, /'a' appears twice/);
    assert.match(problems, /n \(4\) must be <= replicas \(3\)/);
    assert.match(problems, /power of two/);
    assert.deepEqual(specProblems(clusterSpecSchema.parse({})), []);
  });
});

describe("DynamoBackup and DynamoScheduledBackup CRDs", () => {
  for (const definition of [BACKUP_CRD, SCHEDULED_BACKUP_CRD]) {
    it(`the committed crds/${definition.file}.yaml matches a fresh generation (run npm run gen:crds)`, () => {
      assert.equal(readFileSync(new URL(`../../../../crds/${definition.file}.yaml`, import.meta.url), "utf8"), renderCrdYaml(definition));
    });

    it(`${definition.kind} requires a spec, has a status subresource and no scale subresource`, () => {
      const crd = buildCrd(definition) as { spec: { versions: { schema: { openAPIV3Schema: JsonSchema }; subresources: unknown }[] } };
      const version = crd.spec.versions[0]!;
      assert.deepEqual(version.schema.openAPIV3Schema.required, ["spec"]);
      assert.deepEqual(version.subresources, { status: {} });
    });
  }

  it("names the printer columns a user watches a backup by", () => {
    const columns = BACKUP_CRD.printerColumns.map((c) => c.name);
    assert.deepEqual(columns, ["Cluster", "Phase", "Progress", "Bytes", "Backup", "Started", "Finished", "Message"]);
  });

  it("accepts a backup and refuses a file:// location without a volume (as the CEL rule does)", () => {
    const rules = JSON.stringify(openApiSchema(BACKUP_CRD));
    assert.match(rules, /a file:\/\/ location needs a volume to hold it/);
    assert.match(rules, /a DynamoBackup's spec cannot change/);
  });

  it("fixes a cluster's bootstrap when it is created", () => {
    const spec = (openApiSchema().properties as Record<string, JsonSchema>).spec as JsonSchema;
    const rules = (spec["x-kubernetes-validations"] as { rule: string }[]).map((r) => r.rule);
    assert.ok(rules.includes("has(self.bootstrap) == has(oldSelf.bootstrap)"));
  });
});
