/**
 * Where backups live, as the resources name it: the object-store location that `dynamo backup` takes, the S3 settings
 * and credentials Secret for an `s3://` location, and the volume that holds a `file://` one. Shared by DynamoBackup,
 * DynamoScheduledBackup and a DynamoCluster's `spec.bootstrap.fromBackup`, so the three spell it the same way.
 */
import { z } from "zod";
import { BACKUP_ID_PATTERN } from "../../backup/location.js";

type Rule = { rule: string; message?: string; fieldPath?: string };
const cel = (...rules: Rule[]) => ({ "x-kubernetes-validations": rules });

/** A DNS-1123 subdomain: the name of a Secret, a DynamoBackup or a DynamoCluster. */
const OBJECT_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
export const objectNameSchema = z.string().min(1).max(253).regex(OBJECT_NAME, "not a Kubernetes object name");

/** A backup id as `dynamo backup` accepts it; it names a directory and an object prefix. */
export const backupIdSchema = z.string().min(1).max(128).regex(BACKUP_ID_PATTERN, "a backup id is letters, digits, '.', '_' and '-'");

export const backupStoreSchema = z
  .object({
    location: z
      .string()
      .min(8)
      .max(1024)
      .regex(/^(file:\/\/\/|s3:\/\/[a-z0-9])/, "a location is file:///absolute/directory or s3://bucket/prefix")
      .describe("Where the backups go: s3://bucket/prefix, or file:///directory on `volume`. Each backup is a directory (prefix) under it."),
    s3: z
      .object({
        endpoint: z.string().min(1).max(512).optional().describe("The S3 endpoint URL of an S3-compatible store (SeaweedFS, Ceph RGW, ...); AWS when unset."),
        region: z.string().min(1).max(64).optional().describe("The bucket's region; the credentials Secret's AWS_REGION, else us-east-1, when unset."),
        pathStyle: z.boolean().default(false).describe("Path-style addressing, for stores without virtual-host buckets."),
      })
      .optional(),
    credentials: z
      .object({ secretName: objectNameSchema.describe("A Secret in this namespace; every key becomes an environment variable of the Job.") })
      .optional()
      .describe("The store's credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and optionally AWS_SESSION_TOKEN, AWS_REGION). Only the Job reads them; the operator never does."),
    volume: z
      .record(z.string(), z.unknown())
      .describe("A pod volume source (persistentVolumeClaim, nfs, hostPath, ...) mounted at the directory of a file:// location.")
      .meta({ "x-kubernetes-preserve-unknown-fields": true })
      .optional(),
  })
  .describe("An object store location of backups.")
  .meta(
    cel(
      { rule: "!self.location.startsWith('file://') || has(self.volume)", message: "a file:// location needs a volume to hold it", fieldPath: ".volume" },
      { rule: "!self.location.startsWith('file://') || !has(self.s3)", message: "s3 settings are for s3:// locations", fieldPath: ".s3" },
    ),
  );

export const fromBackupSchema = z
  .object({
    backup: objectNameSchema.optional().describe("A Completed DynamoBackup in this namespace: its store and backup id."),
    store: backupStoreSchema.optional().describe("Or a store location directly (for backups of a cluster in another namespace or Kubernetes cluster)."),
    backupId: backupIdSchema.optional().describe("With `store`: the backup to restore; the newest complete one there when unset."),
  })
  .describe("Load the data of a backup before the cluster turns Available.")
  .meta(
    cel(
      { rule: "has(self.backup) != has(self.store)", message: "fromBackup names either a DynamoBackup (backup) or a location (store), not both and not neither" },
      { rule: "!has(self.backupId) || has(self.store)", message: "backupId goes with store; a DynamoBackup already names its backup", fieldPath: ".backupId" },
    ),
  );

export const bootstrapSchema = z
  .object({ fromBackup: fromBackupSchema.optional() })
  .describe("How a new cluster starts: empty (unset), or from a backup. Fixed when the cluster is created.")
  .meta(cel({ rule: "self == oldSelf", message: "bootstrap is fixed when the cluster is created" }));

export type BackupStore = z.output<typeof backupStoreSchema>;
export type FromBackup = z.output<typeof fromBackupSchema>;
