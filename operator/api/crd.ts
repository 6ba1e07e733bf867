/**
 * Generates the CustomResourceDefinitions (DynamoCluster, DynamoBackup, DynamoScheduledBackup) from their zod schemas. zod's JSON Schema
 * output is close to, but not quite, a Kubernetes structural schema, so `toStructural` rewrites the few constructs
 * that differ and refuses (throws on) anything it does not know how to express, rather than emitting a schema the API
 * server would reject or, worse, accept with different meaning. The output is deterministic: the same schemas always
 * give byte-identical YAML, so a test can compare the committed file with a fresh generation.
 */
import { z } from "zod";
import { stringify } from "yaml";
import { API_VERSION, GROUP, KIND, PLURAL, SHORT_NAMES, SINGULAR, VERSION, clusterSpecSchema, clusterStatusSchema } from "./dynamo-cluster.js";
import {
  BACKUP_KIND,
  BACKUP_PLURAL,
  BACKUP_SHORT_NAMES,
  BACKUP_SINGULAR,
  SCHEDULED_BACKUP_KIND,
  SCHEDULED_BACKUP_PLURAL,
  SCHEDULED_BACKUP_SHORT_NAMES,
  SCHEDULED_BACKUP_SINGULAR,
  backupSpecSchema,
  backupStatusSchema,
  scheduledBackupSpecSchema,
  scheduledBackupStatusSchema,
} from "./dynamo-backup.js";

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

/** One custom resource as the generator needs it: names, schemas, subresources and printer columns. */
export interface CrdDefinition {
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  description: string;
  /** The file under crds/ (and, as JSON, in the chart) that holds the generated CRD. */
  file: string;
  /** The zod source it is generated from, for the file's header. */
  source: string;
  spec: z.ZodType;
  status: z.ZodType;
  /** Whether the spec as a whole has a default (DynamoCluster's: every field of it is optional). */
  specDefault?: unknown;
  scale?: boolean;
  printerColumns: { name: string; type: string; jsonPath: string; description?: string; priority?: number }[];
}

const AGE = { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" };

export const CLUSTER_CRD: CrdDefinition = {
  kind: KIND,
  plural: PLURAL,
  singular: SINGULAR,
  shortNames: SHORT_NAMES,
  description: "A Dynamo-style key-value store cluster: storage nodes in a StatefulSet, partitions placed on a ring.",
  file: "dynamoclusters",
  source: "operator/api/dynamo-cluster.ts",
  spec: clusterSpecSchema,
  status: clusterStatusSchema,
  // The API server checks the CEL rules of `spec` against this default without defaulting inside it first, so it
  // is the fully defaulted spec rather than `{}`.
  specDefault: clusterSpecSchema.parse({}),
  scale: true,
  printerColumns: [
    { name: "Replicas", type: "integer", jsonPath: ".spec.replicas", description: "Desired number of storage nodes." },
    { name: "Ready", type: "integer", jsonPath: ".status.readyReplicas", description: "Storage node pods that are ready." },
    { name: "Phase", type: "string", jsonPath: ".status.phase" },
    { name: "Epoch", type: "integer", jsonPath: ".status.ringEpoch", description: "Epoch of the committed ring." },
    { name: "Progress", type: "string", jsonPath: ".status.rebalance.progress", description: "Partitions moved by the ring change in flight, or the last one." },
    { name: "Updated", type: "string", jsonPath: ".status.rollout.progress", description: "Pods at the update revision / pods (rolling updates)." },
    AGE,
    { name: "Message", type: "string", jsonPath: ".status.message", description: "What the cluster is doing, or what is wrong." },
  ],
};

export const BACKUP_CRD: CrdDefinition = {
  kind: BACKUP_KIND,
  plural: BACKUP_PLURAL,
  singular: BACKUP_SINGULAR,
  shortNames: BACKUP_SHORT_NAMES,
  description: "One backup of a DynamoCluster to an object store, taken by a Job as soon as the resource exists.",
  file: "dynamobackups",
  source: "operator/api/dynamo-backup.ts",
  spec: backupSpecSchema,
  status: backupStatusSchema,
  printerColumns: [
    { name: "Cluster", type: "string", jsonPath: ".spec.cluster.name" },
    { name: "Phase", type: "string", jsonPath: ".status.phase" },
    { name: "Progress", type: "string", jsonPath: ".status.progress.summary", description: "Partitions stored / partitions." },
    { name: "Bytes", type: "integer", jsonPath: ".status.progress.bytes", description: "Bytes stored (compressed)." },
    { name: "Backup", type: "string", jsonPath: ".status.backupId", description: "The backup's id in the store." },
    { name: "Started", type: "date", jsonPath: ".status.startTime" },
    { name: "Finished", type: "date", jsonPath: ".status.completionTime" },
    { name: "Message", type: "string", jsonPath: ".status.message", priority: 1 },
  ],
};

export const SCHEDULED_BACKUP_CRD: CrdDefinition = {
  kind: SCHEDULED_BACKUP_KIND,
  plural: SCHEDULED_BACKUP_PLURAL,
  singular: SCHEDULED_BACKUP_SINGULAR,
  shortNames: SCHEDULED_BACKUP_SHORT_NAMES,
  description: "Backups of a DynamoCluster on a cron schedule, one at a time, with retention by count and age.",
  file: "dynamoscheduledbackups",
  source: "operator/api/dynamo-backup.ts",
  spec: scheduledBackupSpecSchema,
  status: scheduledBackupStatusSchema,
  printerColumns: [
    { name: "Cluster", type: "string", jsonPath: ".spec.template.cluster.name" },
    { name: "Schedule", type: "string", jsonPath: ".spec.schedule" },
    { name: "Suspend", type: "boolean", jsonPath: ".spec.suspend" },
    { name: "Active", type: "string", jsonPath: ".status.active" },
    { name: "Last Completed", type: "date", jsonPath: ".status.lastCompletionTime" },
    { name: "Next", type: "date", jsonPath: ".status.nextScheduleTime" },
    AGE,
  ],
};

/** Every CRD the operator serves, in the order they are written. */
export const CRDS: readonly CrdDefinition[] = [CLUSTER_CRD, BACKUP_CRD, SCHEDULED_BACKUP_CRD];

/** The full openAPIV3Schema of a resource (DynamoCluster by default). */
export function openApiSchema(definition: CrdDefinition = CLUSTER_CRD): JsonSchema {
  const spec = jsonSchemaOf(definition.spec, ".spec");
  return {
    type: "object",
    description: definition.description,
    properties: {
      apiVersion: { type: "string" },
      kind: { type: "string" },
      metadata: { type: "object" },
      spec: definition.specDefault === undefined ? spec : { ...spec, default: definition.specDefault },
      status: jsonSchemaOf(definition.status, ".status"),
    },
    ...(definition.specDefault === undefined ? { required: ["spec"] } : {}),
  };
}

/** The CustomResourceDefinition as a plain object. */
export function buildCrd(definition: CrdDefinition = CLUSTER_CRD): JsonSchema {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${definition.plural}.${GROUP}` },
    spec: {
      group: GROUP,
      names: { kind: definition.kind, listKind: `${definition.kind}List`, plural: definition.plural, singular: definition.singular, shortNames: definition.shortNames },
      scope: "Namespaced",
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          schema: { openAPIV3Schema: openApiSchema(definition) },
          subresources: definition.scale
            ? { status: {}, scale: { specReplicasPath: ".spec.replicas", statusReplicasPath: ".status.replicas", labelSelectorPath: ".status.selector" } }
            : { status: {} },
          additionalPrinterColumns: definition.printerColumns,
        },
      ],
    },
  };
}

/** The CRD as the YAML committed in crds/<file>.yaml. */
export function renderCrdYaml(definition: CrdDefinition = CLUSTER_CRD): string {
  const header = `# Generated by \`npm run gen:crds\` from ${definition.source}. Do not edit by hand.\n# ${API_VERSION} ${definition.kind}\n`;
  // YAML 1.1 quoting: kubectl and Helm read YAML 1.1, where a bare `n`, `y`, `on` or `no` is a boolean, and the
  // bucket fields `n`, `r`, `w` appear as bare strings in `required`.
  return header + stringify(buildCrd(definition), { lineWidth: 0, aliasDuplicateObjects: false, version: "1.1" });
}
