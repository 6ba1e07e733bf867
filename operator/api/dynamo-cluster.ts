/**
 * The DynamoCluster resource, defined once. The zod schemas here are the single source of the TypeScript types the
 * operator uses, of the validation it applies to objects read from the API server, and (through `crd.ts`) of the
 * OpenAPI schema and CEL rules the API server enforces. CEL rules travel as `x-kubernetes-validations` metadata on
 * the schema node they constrain, so a rule and the field it guards are written side by side.
 */
import { z } from "zod";
import { BUCKET_NAME_PATTERN, DEFAULT_BUCKET, bucketSchema, tuningOverridesSchema } from "../../node/config/index.js";
import { DEFAULT_PARTITIONS, PARTITIONS_MAX } from "../../node/ring/index.js";
import { bootstrapSchema } from "./backup-store.js";

export const GROUP = "dynamo.ringkv.dev";
export const VERSION = "v1alpha1";
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = "DynamoCluster";
export const PLURAL = "dynamoclusters";
export const SINGULAR = "dynamocluster";
export const SHORT_NAMES = ["dyn"];

/** Annotating a pod with this (value `true`) asks the operator to wipe and replace that node. */
export const REPLACE_ANNOTATION = `${GROUP}/replace`;

/**
 * Bounds that keep CEL rules within the API server's cost budget; far beyond any sensible cluster. Messages are
 * static: the API server estimates messageExpressions that format numbers far beyond its budget, and its error
 * already names the field and the rejected value.
 */
export const BUCKETS_MAX = 64;
export const REPLICAS_MAX = 1024;

/** Every power of two up to PARTITIONS_MAX: CEL has no bit operations, so the rule tests membership in this list. */
const POWERS_OF_TWO = Array.from({ length: Math.log2(PARTITIONS_MAX) + 1 }, (_, i) => 2 ** i);

/** The implicit `default` bucket's n: every node defines it unless the configuration redefines it. */
const IMPLICIT_DEFAULT_N = DEFAULT_BUCKET.n;

type Rule = { rule: string; message?: string; messageExpression?: string; reason?: string; fieldPath?: string };
const cel = (...rules: Rule[]) => ({ "x-kubernetes-validations": rules });
const preserveUnknown = { "x-kubernetes-preserve-unknown-fields": true };

/** A Kubernetes quantity (`1Gi`, `500m`, `2`), which the API server accepts as an integer or a string. */
export const quantitySchema = z
  .union([z.number().int().min(0), z.string().regex(/^[+-]?[0-9.]+([eEinumkKMGTP]*[-+]?[0-9]*)$/, "not a Kubernetes quantity")])
  .meta({ "x-kubernetes-int-or-string": true });

/** A free-form Kubernetes object passed through to the pod template; the API server validates it when applied. */
const passThroughObject = (description: string) => z.record(z.string(), z.unknown()).describe(description).meta(preserveUnknown);

/**
 * The node's bucket schema, with the name's length bound made explicit: the pattern implies it, but the API server's
 * CEL cost estimator only counts `maxLength`. The r/w <= n refinements of the node schema are CEL rules here.
 */
export const bucketSpecSchema = z
  .object({ ...bucketSchema.shape, name: bucketSchema.shape.name.max(63) })
  .describe("A bucket every node serves: its replication factor n and default read and write quorums.")
  .meta(
    cel(
      { rule: "self.r <= self.n", message: "a bucket's r (read quorum) must be <= its n (replicas of each key)", fieldPath: ".r" },
      { rule: "self.w <= self.n", message: "a bucket's w (write quorum) must be <= its n (replicas of each key)", fieldPath: ".w" },
    ),
  );

const tuningSpecSchema = tuningOverridesSchema.default({}).describe("Node tuning knobs (see node/config), passed to every node unchanged.");

export const resourcesSchema = z
  .object({
    requests: z.record(z.string(), quantitySchema).optional(),
    limits: z.record(z.string(), quantitySchema).optional(),
  })
  .describe("Compute resources of the storage container.");

export const storageSpecSchema = z
  .object({
    size: quantitySchema.default("1Gi").describe("Size of each node's PersistentVolumeClaim."),
    storageClassName: z.string().max(253).optional().describe("StorageClass of the claims; the cluster default when unset."),
  })
  .describe("Each node's persistent volume.");

const retentionSchema = z.enum(["Retain", "Delete"]);

export const pvcRetentionSchema = z
  .object({
    whenDeleted: retentionSchema
      .default("Retain")
      .describe("What happens to the claims when the DynamoCluster (and so its StatefulSet) is deleted."),
    whenScaled: retentionSchema
      .default("Delete")
      .describe("What happens to a claim when its node is scaled away; its partitions were handed off first, so Delete is safe."),
  })
  .describe("The StatefulSet's persistentVolumeClaimRetentionPolicy.");

export const schedulingSchema = z
  .object({
    nodeSelector: z.record(z.string(), z.string()).optional(),
    affinity: passThroughObject("Pod affinity, as in a pod spec.").optional(),
    tolerations: z.array(passThroughObject("A toleration, as in a pod spec.")).max(64).optional(),
    topologySpreadConstraints: z
      .array(passThroughObject("A topology spread constraint, as in a pod spec."))
      .max(16)
      .optional()
      .describe(
        "Topology spread constraints, as in a pod spec. Unset: spread the pods over zones (topology.kubernetes.io/zone, maxSkew 1, ScheduleAnyway, so a cluster with one zone still schedules them). An empty list turns spreading off.",
      ),
    priorityClassName: z.string().max(253).optional(),
  })
  .describe("Pod scheduling fields passed through to the StatefulSet's pod template.");

/** Certificate lifetimes: bounded so the defaults of cert-manager and of long-lived CAs fit, and tests can go short. */
export const CERTIFICATE_LIFETIME_SECONDS = { min: 60, default: 90 * 24 * 3600, max: 10 * 365 * 24 * 3600 };
export const CA_LIFETIME_SECONDS = { min: 180, default: 10 * 365 * 24 * 3600, max: 30 * 365 * 24 * 3600 };

export const issuerRefSchema = z
  .object({
    name: z.string().min(1).max(253),
    kind: z.enum(["Issuer", "ClusterIssuer"]).default("Issuer"),
    group: z.string().min(1).max(253).default("cert-manager.io"),
  })
  .describe("A cert-manager issuer; it must be a private CA of this cluster alone, since every certificate it signs is a peer.");

export const tlsSpecSchema = z
  .object({
    issuerRef: issuerRefSchema
      .optional()
      .describe("Have cert-manager issue the certificates from this issuer instead of the operator's own CA. Fixed when the cluster is created."),
    certificateLifetimeSeconds: z
      .number()
      .int()
      .min(CERTIFICATE_LIFETIME_SECONDS.min)
      .max(CERTIFICATE_LIFETIME_SECONDS.max)
      .default(CERTIFICATE_LIFETIME_SECONDS.default)
      .describe("Lifetime of the nodes' and the operator's certificates; each is renewed with a third of it left."),
    caLifetimeSeconds: z
      .number()
      .int()
      .min(CA_LIFETIME_SECONDS.min)
      .max(CA_LIFETIME_SECONDS.max)
      .default(CA_LIFETIME_SECONDS.default)
      .describe("Lifetime of the operator's cluster CA; it is rotated, without downtime, with a third of it left."),
    client: z
      .object({ enabled: z.boolean().default(true).describe("Serve the client port over TLS, with the CA published in ConfigMap X-ca.") })
      .default({ enabled: true }),
  })
  .describe("TLS: mutual TLS on the peer port (always), TLS on the client port (by default), and who issues the certificates.")
  .meta(
    cel(
      { rule: "self.caLifetimeSeconds >= self.certificateLifetimeSeconds", message: "tls.caLifetimeSeconds must be >= tls.certificateLifetimeSeconds", fieldPath: ".caLifetimeSeconds" },
      {
        rule: "has(self.issuerRef) == has(oldSelf.issuerRef)",
        message: "tls.issuerRef cannot be added or removed once the cluster exists: the nodes would stop trusting each other",
        fieldPath: ".issuerRef",
      },
    ),
  );

const labelSelectorSchema = z
  .object({
    matchLabels: z.record(z.string(), z.string()).optional(),
    matchExpressions: z
      .array(
        z.object({
          key: z.string().min(1).max(317),
          operator: z.enum(["In", "NotIn", "Exists", "DoesNotExist"]),
          values: z.array(z.string().max(63)).max(64).optional(),
        }),
      )
      .max(16)
      .optional(),
  })
  .describe("A label selector, as in a NetworkPolicy.");

export const networkPeerSchema = z
  .object({
    podSelector: labelSelectorSchema.optional(),
    namespaceSelector: labelSelectorSchema.optional(),
    ipBlock: z
      .object({ cidr: z.string().min(1).max(64), except: z.array(z.string().max(64)).max(32).optional() })
      .optional()
      .describe("Addresses, as in a NetworkPolicy (e.g. clients outside the cluster)."),
  })
  .describe("Who may connect: pods (podSelector, in namespaces matched by namespaceSelector, else the cluster's own), or addresses (ipBlock).")
  .meta(
    cel({
      rule: "has(self.ipBlock) ? !has(self.podSelector) && !has(self.namespaceSelector) : has(self.podSelector) || has(self.namespaceSelector)",
      message: "a network peer is either an ipBlock or pod/namespace selectors, not both and not neither",
    }),
  );

export const networkSpecSchema = z
  .object({
    policy: z
      .object({ enabled: z.boolean().default(true).describe("Create NetworkPolicy X for the cluster's pods.") })
      .default({ enabled: true }),
    clientFrom: z
      .array(networkPeerSchema)
      .min(1)
      .max(32)
      .optional()
      .describe("Who may reach the client port (8080); the cluster's own namespace when unset."),
    peerFrom: z
      .array(networkPeerSchema)
      .max(32)
      .optional()
      .describe("Who else may reach the peer port (8081) besides the cluster's pods and the operator, e.g. an operator run outside the cluster."),
  })
  .describe("Network access to the pods, enforced by a NetworkPolicy (where the cluster's network plugin enforces them).");

export const clientTokensSpecSchema = z
  .object({
    secretName: z.string().min(1).max(253).describe("A Secret in the cluster's namespace holding the tokens file (made with `dynamo token create`)."),
    key: z
      .string()
      .regex(/^[-._a-zA-Z0-9]+$/)
      .max(253)
      .default("tokens.yaml")
      .describe("The Secret's key that holds the file."),
  })
  .describe("Require client tokens on the client port: their hashes, scopes per bucket, from a Secret the nodes reload on change.");

const clusterSpecObject = z.object({
  replicas: z.number().int().min(1).max(REPLICAS_MAX).default(3).describe("Number of storage nodes."),
  partitions: z
    .number()
    .int()
    .default(DEFAULT_PARTITIONS)
    .describe("Q, the number of ring partitions: a power of two fixed when the cluster is created.")
    .meta(
      cel(
        { rule: `self in [${POWERS_OF_TWO.join(", ")}]`, message: `partitions must be a power of two between 1 and ${PARTITIONS_MAX}` },
        { rule: "self == oldSelf", message: "partitions is immutable: it is fixed when the cluster is created" },
      ),
    ),
  image: z
    .string()
    .min(1)
    .max(512)
    .optional()
    .describe("Container image of the storage nodes; when unset, the operator's default (the image the Helm chart installed it from)."),
  imagePullPolicy: z.enum(["Always", "IfNotPresent", "Never"]).optional(),
  buckets: z
    .array(bucketSpecSchema)
    .max(BUCKETS_MAX)
    .default([])
    .describe("Buckets besides `default` (n=3, r=2, w=2), which exists unless redefined here.")
    .meta(cel({ rule: "self.all(b, self.exists_one(c, c.name == b.name))", message: "bucket names must be unique" })),
  tuning: tuningSpecSchema.optional(),
  storage: storageSpecSchema.default({ size: "1Gi" }),
  persistentVolumeClaimRetentionPolicy: pvcRetentionSchema.default({ whenDeleted: "Retain", whenScaled: "Delete" }),
  resources: resourcesSchema.optional(),
  scheduling: schedulingSchema.optional(),
  podDisruptionBudget: z
    .object({ maxUnavailable: z.number().int().min(0).default(1).describe("Nodes that may be disrupted voluntarily at once.") })
    .default({ maxUnavailable: 1 }),
  unreachableReplaceAfterSeconds: z
    .number()
    .int()
    .min(0)
    .default(600)
    .describe("How long a member may stay unreachable before its partitions are reassigned to the others; 0 never."),
  paused: z.boolean().default(false).describe("When true the operator observes and reports but changes nothing."),
  console: z
    .object({ enabled: z.boolean().default(true).describe("Serve the read-only web console at /ui on every node's client port.") })
    .default({ enabled: true }),
  tls: tlsSpecSchema.default({
    certificateLifetimeSeconds: CERTIFICATE_LIFETIME_SECONDS.default,
    caLifetimeSeconds: CA_LIFETIME_SECONDS.default,
    client: { enabled: true },
  }),
  clientTokens: clientTokensSpecSchema.optional(),
  network: networkSpecSchema.default({ policy: { enabled: true } }),
  bootstrap: bootstrapSchema.optional(),
});

/** The largest n over the spec's buckets and the implicit default bucket, as CEL and as TypeScript. */
const LARGEST_N_CEL = `(self.buckets.exists(b, b.name == 'default') ? 0 : ${IMPLICIT_DEFAULT_N})`;

export const clusterSpecSchema = clusterSpecObject.meta(
  cel(
    {
      rule: "self.buckets.all(b, b.n <= self.replicas)",
      message: "every bucket's n must be <= replicas: a key cannot have more replicas than there are nodes",
      fieldPath: ".buckets",
    },
    {
      rule: `self.replicas >= ${LARGEST_N_CEL}`,
      message: `replicas must be >= ${IMPLICIT_DEFAULT_N}, the n of the implicit default bucket; redefine bucket 'default' with a smaller n for fewer replicas`,
      fieldPath: ".replicas",
    },
    {
      rule: "has(self.bootstrap) == has(oldSelf.bootstrap)",
      message: "bootstrap can only be set when the cluster is created: restoring into a cluster that holds data would merge the two",
      fieldPath: ".bootstrap",
    },
  ),
);

export const memberStatusSchema = z.object({
  id: z.string(),
  state: z.string().describe("joining, valid, leaving, or absent (a pod not in the ring)."),
  partitions: z.number().int().describe("Partitions this member owns."),
  incarnation: z.string().optional(),
  zone: z
    .string()
    .optional()
    .describe("The member's zone as the ring records it: the topology.kubernetes.io/zone label of the Kubernetes Node its pod runs on."),
  ready: z.boolean().describe("Whether the member's pod is ready."),
  reachable: z.boolean().optional().describe("Whether the operator reached the member's admin API on its last pass."),
  unreachableSince: z
    .string()
    .optional()
    .describe(
      "When the operator first failed to reach the member in its current streak (RFC 3339). Kept here so the countdown to unreachableReplaceAfterSeconds survives operator restarts and leader changes.",
    ),
});

export const conditionSchema = z.object({
  type: z.string(),
  status: z.enum(["True", "False", "Unknown"]),
  observedGeneration: z.number().int().optional(),
  lastTransitionTime: z.string(),
  reason: z.string(),
  message: z.string(),
});

export const PHASES = ["Creating", "Stable", "Rebalancing", "Updating", "Degraded", "Paused"] as const;
export const CONDITION_TYPES = ["Available", "Progressing", "Degraded", "CertificatesReady", "Restored"] as const;

export const tlsStatusSchema = z
  .object({
    issuer: z.enum(["Operator", "CertManager"]).describe("Who issues the certificates: the operator's own CA, or cert-manager."),
    caConfigMap: z.string().optional().describe("ConfigMap whose ca.crt clients of the client port trust (client TLS only)."),
    caNotAfter: z.string().optional().describe("When the signing CA expires (operator-issued certificates)."),
    certificatesNotAfter: z.string().optional().describe("When the first of the stored certificates expires."),
    rotation: z.string().optional().describe("The CA rotation in progress, if any, and what it waits for."),
    lastRotationTime: z.string().optional().describe("When certificates were last issued or the CA last changed."),
    lastRotation: z.string().optional().describe("What was issued or changed then."),
  })
  .describe("The cluster's certificates.");

export const rebalanceStatusSchema = z
  .object({
    epoch: z.number().int().describe("Ring epoch of the plan this measures."),
    partitionsTotal: z.number().int().describe("Partition copies the plan streams to new replicas."),
    partitionsMoved: z.number().int().describe("Partition copies streamed completely."),
    bytesMoved: z.number().int().describe("Bytes streamed so far, including transfers still running."),
    bytesTotalEstimate: z.number().int().optional().describe("Estimated bytes of the whole plan, from the average partition moved so far."),
    bytesPerSecond: z.number().int().optional().describe("Average rate since the plan's first transfer started."),
    etaSeconds: z.number().int().optional().describe("Seconds left at that rate."),
    startTime: z.string().optional().describe("When the plan's first transfer started."),
    finishTime: z.string().optional().describe("When the plan was finalized; unset while it runs."),
    progress: z.string().describe("Partitions moved, as a whole percentage (the Progress printer column)."),
  })
  .describe("The ring change in flight, or the last one finished.");

export const rolloutStatusSchema = z
  .object({
    updated: z.number().int().describe("Pods that run the StatefulSet's update revision."),
    total: z.number().int().describe("Pods the StatefulSet has."),
    progress: z.string().describe("updated/total (the Updated printer column)."),
    currentRevision: z.string().optional().describe("The StatefulSet's current revision."),
    updateRevision: z.string().optional().describe("The revision pods are being rolled to, one at a time."),
    waiting: z.string().optional().describe("Why the next pod does not go yet, while pods remain to update."),
  })
  .describe("The rolling update of the pods: the operator deletes one outdated pod at a time, each once the cluster has caught up.");

export const BOOTSTRAP_PHASES = ["Waiting", "Restoring", "Restored", "Failed"] as const;

export const bootstrapStatusSchema = z
  .object({
    phase: z.enum(BOOTSTRAP_PHASES).describe("Waiting for the pods and the ring, Restoring (the Job runs), Restored, or Failed."),
    job: z.string().optional().describe("The restore Job."),
    location: z.string().optional().describe("The store location restored from."),
    backupId: z.string().optional().describe("The backup restored (once the Job has read its manifest)."),
    records: z.number().int().optional().describe("Records written by the restore."),
    startTime: z.string().optional(),
    completionTime: z.string().optional(),
    reason: z.string().optional().describe("Why it failed, as a code (CorruptObject, MissingObject, NotFound, Incompatible, JobFailed, ...)."),
    message: z.string().optional(),
  })
  .describe("The restore of spec.bootstrap.fromBackup.");

export const clusterStatusSchema = z.object({
  replicas: z.number().int().optional().describe("Pods the StatefulSet has (the scale subresource's current count)."),
  readyReplicas: z.number().int().optional(),
  selector: z.string().optional().describe("Label selector of the pods, as a string, for the scale subresource."),
  phase: z.enum(PHASES).optional(),
  ringEpoch: z.number().int().optional(),
  partitions: z.number().int().optional(),
  members: z
    .array(memberStatusSchema)
    .optional()
    .meta({ "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["id"] }),
  transfers: z.object({ pending: z.number().int(), active: z.number().int() }).optional(),
  rebalance: rebalanceStatusSchema.optional(),
  tls: tlsStatusSchema.optional(),
  rollout: rolloutStatusSchema.optional(),
  bootstrap: bootstrapStatusSchema.optional(),
  message: z.string().optional().describe("One line on what the cluster is doing or what is wrong (the Message printer column)."),
  lastAction: z.string().optional().describe("The last change the operator made to the ring or the StatefulSet."),
  conditions: z
    .array(conditionSchema)
    .optional()
    .meta({ "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"] }),
  observedGeneration: z.number().int().optional(),
});

export const objectMetaSchema = z.object({
  name: z.string(),
  namespace: z.string().optional(),
  uid: z.string().optional(),
  generation: z.number().int().optional(),
  resourceVersion: z.string().optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  deletionTimestamp: z.union([z.string(), z.date()]).optional(),
  creationTimestamp: z.union([z.string(), z.date()]).optional(),
});

/** What the operator accepts from the API server: spec defaults are applied again in case an older CRD is installed. */
export const dynamoClusterSchema = z.object({
  apiVersion: z.literal(API_VERSION).optional(),
  kind: z.literal(KIND).optional(),
  metadata: objectMetaSchema,
  spec: clusterSpecSchema,
  status: clusterStatusSchema.optional(),
});

export type DynamoClusterSpec = z.output<typeof clusterSpecSchema>;
export type DynamoClusterSpecInput = z.input<typeof clusterSpecSchema>;
export type DynamoClusterStatus = z.output<typeof clusterStatusSchema>;
export type MemberStatus = z.output<typeof memberStatusSchema>;
export type RebalanceStatus = z.output<typeof rebalanceStatusSchema>;
export type TlsStatus = z.output<typeof tlsStatusSchema>;
export type NetworkPeer = z.output<typeof networkPeerSchema>;
export type Condition = z.output<typeof conditionSchema>;
export type BootstrapStatus = z.output<typeof bootstrapStatusSchema>;
export type BootstrapPhase = (typeof BOOTSTRAP_PHASES)[number];
export type ConditionType = (typeof CONDITION_TYPES)[number];
export type Phase = (typeof PHASES)[number];
export type DynamoCluster = z.output<typeof dynamoClusterSchema>;

/** The largest n over every bucket the nodes will serve, including the implicit `default`. */
export function largestN(spec: Pick<DynamoClusterSpec, "buckets">): number {
  const ns = spec.buckets.map((b) => b.n);
  if (!spec.buckets.some((b) => b.name === DEFAULT_BUCKET.name)) ns.push(IMPLICIT_DEFAULT_N);
  return Math.max(...ns);
}

export class InvalidClusterError extends Error {
  readonly code = "invalid_cluster";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "InvalidClusterError";
  }
}

/**
 * The rules the API server's CEL validations enforce, checked again here: a cluster created before the CRD carried
 * them, or by a client that bypassed them, is reported in a condition instead of being acted upon.
 */
export function specProblems(spec: DynamoClusterSpec): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const bucket of spec.buckets) {
    if (bucket.r > bucket.n) problems.push(`bucket ${bucket.name}: r (${bucket.r}) must be <= n (${bucket.n})`);
    if (bucket.w > bucket.n) problems.push(`bucket ${bucket.name}: w (${bucket.w}) must be <= n (${bucket.n})`);
    if (seen.has(bucket.name)) problems.push(`bucket names must be unique: '${bucket.name}' appears twice`);
    seen.add(bucket.name);
    if (bucket.n > spec.replicas) problems.push(`bucket ${bucket.name}: n (${bucket.n}) must be <= replicas (${spec.replicas})`);
  }
  if (spec.replicas < largestN(spec)) problems.push(`replicas (${spec.replicas}) must be >= the largest bucket n (${largestN(spec)})`);
  if (!POWERS_OF_TWO.includes(spec.partitions)) problems.push(`partitions must be a power of two between 1 and ${PARTITIONS_MAX}`);
  return problems;
}

/** Validates an object read from the API server; the message lists every problem with its path. */
export function parseDynamoCluster(object: unknown): DynamoCluster {
  const result = dynamoClusterSchema.safeParse(object);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
    throw new InvalidClusterError(`invalid DynamoCluster: ${problems}`, { cause: result.error });
  }
  return result.data;
}

export { BUCKET_NAME_PATTERN };
