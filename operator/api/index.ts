/**
 * The DynamoCluster API: its schema (the one source of types, validation and the CRD), the names and labels the
 * Kubernetes contracts fix, and the CRD generator.
 */
export {
  API_VERSION,
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
export { SchemaConversionError, buildCrd, openApiSchema, renderCrdYaml, toStructural } from "./crd.js";
export type { JsonSchema } from "./crd.js";
