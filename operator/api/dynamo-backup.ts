/**
 * The DynamoBackup (one backup of a DynamoCluster, taken now) and DynamoScheduledBackup (backups on a cron schedule,
 * with retention) resources, defined once in zod like DynamoCluster: the types, the operator's validation of what it
 * reads, and (through crd.ts) the CRDs the API server enforces.
 */
import { z } from "zod";
import { backupIdSchema, backupStoreSchema, objectNameSchema } from "./backup-store.js";
import { API_VERSION, conditionSchema, objectMetaSchema, resourcesSchema } from "./dynamo-cluster.js";

export const BACKUP_KIND = "DynamoBackup";
export const BACKUP_PLURAL = "dynamobackups";
export const BACKUP_SINGULAR = "dynamobackup";
export const BACKUP_SHORT_NAMES = ["dynbak"];

export const SCHEDULED_BACKUP_KIND = "DynamoScheduledBackup";
export const SCHEDULED_BACKUP_PLURAL = "dynamoscheduledbackups";
export const SCHEDULED_BACKUP_SINGULAR = "dynamoscheduledbackup";
export const SCHEDULED_BACKUP_SHORT_NAMES = ["dynsched"];

type Rule = { rule: string; message?: string; fieldPath?: string };
const cel = (...rules: Rule[]) => ({ "x-kubernetes-validations": rules });

/** A duration as retention takes it: a whole number of days, hours or minutes (`30d`, `12h`, `90m`). */
export const DURATION_PATTERN = /^[1-9][0-9]{0,5}(d|h|m)$/;

/** What a backup Job may take from the cluster: `dynamo backup create`'s rate flags, 0 for no limit. */
export const rateSchema = z
  .object({
    bytesPerSecond: z.number().int().min(0).optional().describe("Bytes read per second, summed over every replica read (default 8 MiB/s)."),
    recordsPerSecond: z.number().int().min(0).optional().describe("Records read per second (default 20 000)."),
    partitionsInFlight: z.number().int().min(1).max(64).optional().describe("Partitions read at once (default 2)."),
  })
  .describe("How hard the backup may read the cluster; the defaults keep client latency close to its level without a backup.");

const backupFields = {
  cluster: z.object({ name: objectNameSchema.describe("The DynamoCluster, in this namespace.") }),
  store: backupStoreSchema,
  rate: rateSchema.optional(),
  resources: resourcesSchema.optional().describe("Compute resources of the backup Job's container."),
};

export const backupSpecSchema = z
  .object({
    ...backupFields,
    backupId: backupIdSchema
      .optional()
      .describe("The backup's id in the store; unset, the operator derives one from the creation time and uid (20261130T020000Z-3f1a2b3c)."),
  })
  .describe("One backup of a DynamoCluster, taken as soon as the resource exists.")
  .meta(cel({ rule: "self == oldSelf", message: "a DynamoBackup's spec cannot change; create another DynamoBackup" }));

export const BACKUP_PHASES = ["Pending", "Running", "Completed", "Failed"] as const;
export const BACKUP_CONDITION_TYPES = ["Completed", "Failed"] as const;

/**
 * Why a backup (or a bootstrap restore) failed: the codes of `dynamo backup` (backup/errors.ts) in condition form,
 * and what only the operator sees.
 */
export const BACKUP_FAILURE_REASONS = [
  "InvalidLocation",
  "NotFound",
  "NotComplete",
  "MissingObject",
  "CorruptObject",
  "InvalidManifest",
  "Incompatible",
  "NotEmpty",
  "InsufficientReplicas",
  "ClusterUnavailable",
  "StoreFailed",
  "Aborted",
  /** The Job ran out of retries without a result: its pods crashed, were killed, or could not start. */
  "JobFailed",
  /** The Job was deleted before it finished. */
  "JobDeleted",
  /** The DynamoCluster the backup names does not exist. */
  "ClusterNotFound",
  /** The DynamoBackup a bootstrap names does not exist, or failed. */
  "BackupNotFound",
  "BackupFailed",
  /** The spec breaks a rule the operator checks (a location the backup engine refuses). */
  "InvalidSpec",
] as const;

export const backupProgressSchema = z
  .object({
    partitionsDone: z.number().int().optional(),
    partitionsTotal: z.number().int().optional(),
    records: z.number().int().optional().describe("Records (including deletes) written to the store."),
    bytes: z.number().int().optional().describe("Bytes stored (compressed)."),
    summary: z.string().optional().describe("Partitions done/total (the Progress printer column)."),
  })
  .describe("How far the backup got; filled in from the Job's result.");

export const backupStatusSchema = z.object({
  phase: z.enum(BACKUP_PHASES).optional(),
  backupId: z.string().optional().describe("The backup's id in the store: `dynamo backup list` shows it, and a restore names it."),
  location: z.string().optional().describe("The store location."),
  job: z.string().optional().describe("The Job that runs the backup."),
  startTime: z.string().optional().describe("When the Job started; every write acknowledged before it is in the backup."),
  completionTime: z.string().optional(),
  progress: backupProgressSchema.optional(),
  message: z.string().optional().describe("What the backup is doing, or why it failed."),
  conditions: z
    .array(conditionSchema)
    .optional()
    .meta({ "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"] }),
  observedGeneration: z.number().int().optional(),
});

export const dynamoBackupSchema = z.object({
  apiVersion: z.literal(API_VERSION).optional(),
  kind: z.literal(BACKUP_KIND).optional(),
  metadata: objectMetaSchema,
  spec: backupSpecSchema,
  status: backupStatusSchema.optional(),
});

export const retentionSpecSchema = z
  .object({
    keepLast: z.number().int().min(1).max(10_000).optional().describe("Complete backups to keep, newest first."),
    maxAge: z.string().regex(DURATION_PATTERN, "a duration is a whole number of days, hours or minutes: 30d, 12h, 90m").optional().describe("Delete backups older than this (30d, 12h, 90m)."),
  })
  .describe(
    "Which old backups go, after each new one completes: their objects in the store and their DynamoBackups. A backup in progress and the newest complete one are never deleted. Applies to every backup in the location, so give each schedule a location of its own.",
  );

/** Five cron fields (minute hour day-of-month month day-of-week), or a macro such as @daily. */
export const CRON_PATTERN = /^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|(\S+\s+){4}\S+)$/;

export const scheduledBackupSpecSchema = z
  .object({
    schedule: z
      .string()
      .min(1)
      .max(128)
      .regex(CRON_PATTERN, "a schedule is five cron fields (minute hour day-of-month month day-of-week) or @daily, @hourly, ...")
      .describe("When to take a backup, in UTC: five cron fields (`0 2 * * *` is 02:00 every day) or @daily, @hourly, @weekly, @monthly."),
    suspend: z.boolean().default(false).describe("When true no new backup starts; one running finishes."),
    template: z.object(backupFields).describe("The DynamoBackup each run creates."),
    retention: retentionSpecSchema.optional(),
  })
  .describe("Backups of a DynamoCluster on a schedule, one at a time, with retention.");

export const scheduledBackupStatusSchema = z.object({
  lastScheduleTime: z.string().optional().describe("When the last backup was due (and created)."),
  nextScheduleTime: z.string().optional(),
  active: z.string().optional().describe("The DynamoBackup running now."),
  lastBackup: z.string().optional().describe("The DynamoBackup created last."),
  lastCompletedBackup: z.string().optional(),
  lastCompletionTime: z.string().optional(),
  lastFailedBackup: z.string().optional(),
  message: z.string().optional(),
  observedGeneration: z.number().int().optional(),
});

export const dynamoScheduledBackupSchema = z.object({
  apiVersion: z.literal(API_VERSION).optional(),
  kind: z.literal(SCHEDULED_BACKUP_KIND).optional(),
  metadata: objectMetaSchema,
  spec: scheduledBackupSpecSchema,
  status: scheduledBackupStatusSchema.optional(),
});

export type DynamoBackup = z.output<typeof dynamoBackupSchema>;
export type DynamoBackupSpec = z.output<typeof backupSpecSchema>;
export type DynamoBackupStatus = z.output<typeof backupStatusSchema>;
export type BackupPhase = (typeof BACKUP_PHASES)[number];
export type BackupFailureReason = (typeof BACKUP_FAILURE_REASONS)[number];
export type DynamoScheduledBackup = z.output<typeof dynamoScheduledBackupSchema>;
export type DynamoScheduledBackupStatus = z.output<typeof scheduledBackupStatusSchema>;
export type BackupTemplate = DynamoScheduledBackup["spec"]["template"];

export class InvalidResourceError extends Error {
  readonly code = "invalid_resource";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "InvalidResourceError";
  }
}

function parseWith<T>(schema: z.ZodType<T>, kind: string, object: unknown): T {
  const result = schema.safeParse(object);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
    throw new InvalidResourceError(`invalid ${kind}: ${problems}`, { cause: result.error });
  }
  return result.data;
}

export const parseDynamoBackup = (object: unknown): DynamoBackup => parseWith(dynamoBackupSchema, BACKUP_KIND, object);
export const parseDynamoScheduledBackup = (object: unknown): DynamoScheduledBackup =>
  parseWith(dynamoScheduledBackupSchema, SCHEDULED_BACKUP_KIND, object);

/** Milliseconds of a retention duration (`30d`, `12h`, `90m`). */
export function durationMs(text: string): number {
  const match = DURATION_PATTERN.exec(text);
  if (!match) throw new InvalidResourceError(`'${text}' is not a duration such as 30d, 12h or 90m`);
  const unit = { d: 86_400_000, h: 3_600_000, m: 60_000 }[match[1] as "d" | "h" | "m"];
  return Number(text.slice(0, -1)) * unit;
}
