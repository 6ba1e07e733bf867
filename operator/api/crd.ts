/**
 * Generates the DynamoCluster CustomResourceDefinition from the zod schemas in `dynamo-cluster.ts`. zod's JSON Schema
 * output is close to, but not quite, a Kubernetes structural schema, so `toStructural` rewrites the few constructs
 * that differ and refuses (throws on) anything it does not know how to express, rather than emitting a schema the API
 * server would reject or, worse, accept with different meaning. The output is deterministic: the same schemas always
 * give byte-identical YAML, so a test can compare the committed file with a fresh generation.
 */
import { z } from "zod";
import { stringify } from "yaml";
import { API_VERSION, GROUP, KIND, PLURAL, SHORT_NAMES, SINGULAR, VERSION, clusterSpecSchema, clusterStatusSchema } from "./dynamo-cluster.js";

export type JsonSchema = { [key: string]: unknown };

const INT_OR_STRING = "x-kubernetes-int-or-string";
const PRESERVE_UNKNOWN = "x-kubernetes-preserve-unknown-fields";

/** Keys a structural schema node may carry; anything else zod emits is a construct we have not vetted. */
const ALLOWED_KEYS = new Set([
  "type",
  "description",
  "default",
  "properties",
  "required",
  "items",
  "additionalProperties",
  "enum",
  "minimum",
  "maximum",
  "minLength",
  "maxLength",
  "minItems",
  "maxItems",
  "pattern",
  "format",
  "nullable",
  "x-kubernetes-validations",
  "x-kubernetes-list-type",
  "x-kubernetes-list-map-keys",
  PRESERVE_UNKNOWN,
]);

export class SchemaConversionError extends Error {
  readonly code = "schema_conversion";
  constructor(path: string, message: string) {
    super(`${path || "(root)"}: ${message}`);
    this.name = "SchemaConversionError";
  }
}

/**
 * Rewrites one zod JSON Schema node (openapi-3.0 target, input side so defaulted fields are optional) into a
 * Kubernetes structural schema node:
 * - `additionalProperties: false` is dropped: the API server prunes unknown fields anyway, and forbids
 *   `additionalProperties` next to `properties`;
 * - int-or-string unions become the one `anyOf` form Kubernetes allows;
 * - free-form objects (`z.record(z.string(), z.unknown())`) become `x-kubernetes-preserve-unknown-fields`;
 * - the ±2^53 bounds zod puts on every integer are dropped as noise.
 */
export function toStructural(node: JsonSchema, path = ""): JsonSchema {
  if (node[INT_OR_STRING] === true) {
    return pick(node, ["description", "default"], { [INT_OR_STRING]: true, anyOf: [{ type: "integer" }, { type: "string" }] });
  }
  if (node[PRESERVE_UNKNOWN] === true) {
    if (node.type !== "object") throw new SchemaConversionError(path, "only objects may preserve unknown fields");
    return pick(node, ["description", "default"], { type: "object", [PRESERVE_UNKNOWN]: true });
  }
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === "$schema" || key === "id" || key === "$id") continue;
    if (!ALLOWED_KEYS.has(key)) throw new SchemaConversionError(path, `'${key}' has no structural-schema equivalent`);
    if (key === "additionalProperties") {
      if (value === false) continue;
      if (node.properties) throw new SchemaConversionError(path, "additionalProperties next to properties is not structural");
      if (typeof value !== "object" || value === null || Object.keys(value).length === 0) {
        throw new SchemaConversionError(path, "a map of unknown values needs x-kubernetes-preserve-unknown-fields");
      }
      out[key] = toStructural(value as JsonSchema, `${path}.*`);
    } else if (key === "properties") {
      out[key] = Object.fromEntries(
        Object.entries(value as Record<string, JsonSchema>).map(([name, child]) => [name, toStructural(child, `${path}.${name}`)]),
      );
    } else if (key === "items") {
      out[key] = toStructural(value as JsonSchema, `${path}[]`);
    } else if ((key === "minimum" || key === "maximum") && Math.abs(value as number) === Number.MAX_SAFE_INTEGER) {
      continue;
    } else {
      out[key] = value;
    }
  }
  if (typeof out.type !== "string") throw new SchemaConversionError(path, "every node of a structural schema needs a type");
  return out;
}

function pick(node: JsonSchema, keys: string[], rest: JsonSchema): JsonSchema {
  const out: JsonSchema = {};
  for (const key of keys) if (node[key] !== undefined) out[key] = node[key];
  return { ...out, ...rest };
}

function jsonSchemaOf(schema: z.ZodType, path: string): JsonSchema {
  return toStructural(z.toJSONSchema(schema, { io: "input", target: "openapi-3.0", unrepresentable: "throw" }) as JsonSchema, path);
}

/** The full openAPIV3Schema of the resource. */
export function openApiSchema(): JsonSchema {
  return {
    type: "object",
    description: "A Dynamo-style key-value store cluster: storage nodes in a StatefulSet, partitions placed on a ring.",
    properties: {
      apiVersion: { type: "string" },
      kind: { type: "string" },
      metadata: { type: "object" },
      // The API server checks the CEL rules of `spec` against this default without defaulting inside it first, so it
      // is the fully defaulted spec rather than `{}`.
      spec: { ...jsonSchemaOf(clusterSpecSchema, ".spec"), default: clusterSpecSchema.parse({}) },
      status: jsonSchemaOf(clusterStatusSchema, ".status"),
    },
  };
}

/** The CustomResourceDefinition as a plain object. */
export function buildCrd(): JsonSchema {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${PLURAL}.${GROUP}` },
    spec: {
      group: GROUP,
      names: { kind: KIND, listKind: `${KIND}List`, plural: PLURAL, singular: SINGULAR, shortNames: SHORT_NAMES },
      scope: "Namespaced",
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          schema: { openAPIV3Schema: openApiSchema() },
          subresources: {
            status: {},
            scale: { specReplicasPath: ".spec.replicas", statusReplicasPath: ".status.replicas", labelSelectorPath: ".status.selector" },
          },
          additionalPrinterColumns: [
            { name: "Replicas", type: "integer", jsonPath: ".spec.replicas", description: "Desired number of storage nodes." },
            { name: "Ready", type: "integer", jsonPath: ".status.readyReplicas", description: "Storage node pods that are ready." },
            { name: "Phase", type: "string", jsonPath: ".status.phase" },
            { name: "Epoch", type: "integer", jsonPath: ".status.ringEpoch", description: "Epoch of the committed ring." },
            { name: "Progress", type: "string", jsonPath: ".status.rebalance.progress", description: "Partitions moved by the ring change in flight, or the last one." },
            { name: "Updated", type: "string", jsonPath: ".status.rollout.progress", description: "Pods at the update revision / pods (rolling updates)." },
            { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
            { name: "Message", type: "string", jsonPath: ".status.message", description: "What the cluster is doing, or what is wrong." },
          ],
        },
      ],
    },
  };
}

const HEADER = `# Generated by \`npm run gen:crds\` from operator/api/dynamo-cluster.ts. Do not edit by hand.
# ${API_VERSION} ${KIND}
`;

/** The CRD as the YAML committed in crds/dynamoclusters.yaml. */
export function renderCrdYaml(): string {
  // YAML 1.1 quoting: kubectl and Helm read YAML 1.1, where a bare `n`, `y`, `on` or `no` is a boolean, and the
  // bucket fields `n`, `r`, `w` appear as bare strings in `required`.
  return HEADER + stringify(buildCrd(), { lineWidth: 0, aliasDuplicateObjects: false, version: "1.1" });
}
