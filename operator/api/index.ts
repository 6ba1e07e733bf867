/**
 * The DynamoCluster API: its schema (the one source of types, validation and the CRD), the names and labels the
 * Kubernetes contracts fix, and the CRD generator.
 */
export {
  API_VERSION,
  BOOTSTRAP_PHASES,
  BUCKETS_MAX,
  CA_LIFETIME_SECONDS,
  CERTIFICATE_LIFETIME_SECONDS,
  CONDITION_TYPES,
  GROUP,
  InvalidClusterError,
  KIND,
  PHASES,
  PLURAL,
  REPLACE_ANNOTATION,
  VERSION,
  clusterSpecSchema,
  clusterStatusSchema,
  dynamoClusterSchema,
  largestN,
  parseDynamoCluster,
  specProblems,
} from "./dynamo-cluster.js";
export type {
  BootstrapPhase,
  BootstrapStatus,
  Condition,
  ConditionType,
  DynamoCluster,
  DynamoClusterSpec,
  DynamoClusterSpecInput,
  DynamoClusterStatus,
  MemberStatus,
  NetworkPeer,
  Phase,
  RebalanceStatus,
  TlsStatus,
} from "./dynamo-cluster.js";
export { IMAGE_REPOSITORY, buildVersion, defaultStorageImage } from "./image.js";
export { BACKUP_CRD, CLUSTER_CRD, CRDS, SCHEDULED_BACKUP_CRD, SchemaConversionError, buildCrd, openApiSchema, renderCrdYaml, toStructural } from "./crd.js";
export type { CrdDefinition, JsonSchema } from "./crd.js";
export * from "./dynamo-backup.js";
export { backupStoreSchema, bootstrapSchema, fromBackupSchema } from "./backup-store.js";
export type { BackupStore, FromBackup } from "./backup-store.js";
