/**
 * Pure builders of the objects a DynamoCluster owns: each takes the cluster (and what only the caller can know, such
 * as the existing token or the StatefulSet's current replicas) and returns the desired object. Nothing here talks to
 * the API server.
 */
export {
  BACKUP_COMPONENT,
  CLIENT_PORT,
  LABEL_COMPONENT,
  LABEL_INSTANCE,
  LABEL_MANAGED_BY,
  LABEL_NAME,
  MANAGED_BY,
  PEER_PORT,
  clusterLabels,
  objectNames,
  ownedMeta,
  ownerReference,
  selectorLabels,
  selectorString,
} from "./object-meta.js";
export { CONFIG_FILE_KEY, buildConfigMap, configHash, nodeConfigDocument } from "./config-map.js";
export { TOKEN_KEY, buildSecret, generateToken, tokenOf } from "./secret.js";
export { buildPeerService } from "./peer-service.js";
export { buildClientService } from "./client-service.js";
export { buildPodDisruptionBudget } from "./pod-disruption-budget.js";
export {
  CLIENT_SCHEME_LABEL,
  CONFIG_HASH_ANNOTATION,
  CONTAINER_NAME,
  DATA_VOLUME,
  PATHS,
  ZONE_LABEL,
  buildStatefulSet,
  claimName,
  clientScheme,
  defaultSpread,
} from "./stateful-set.js";
export { NAMESPACE_NAME_LABEL, buildNetworkPolicy } from "./network-policy.js";
export type { NetworkPolicyObject, OperatorPods } from "./network-policy.js";
export type { StatefulSetOptions } from "./stateful-set.js";
export {
  BACKUP_CONTAINER,
  BACKUP_LABEL,
  DEFAULT_JOB_RESOURCES,
  JOB_BACKOFF_LIMIT,
  JOB_PATHS,
  RESTORE_LABEL,
  backupIdOf,
  backupJobName,
  boundedName,
  buildBackupJob,
  buildRestoreJob,
  peerUrls,
  restoreJobName,
} from "./backup-job.js";
export type { BackupJobOptions, RestoreSource } from "./backup-job.js";
