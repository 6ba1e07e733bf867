/**
 * The DynamoScheduledBackup controller: one small reconcile per schedule. It lists the DynamoBackups the schedule made
 * (by label), lets the pure `decideSchedule` say whether a run is due and which old backups its retention lets go,
 * creates the DynamoBackup of a due run (the backup controller takes it from there), deletes the DynamoBackups let go
 * (their objects in the store are deleted by the next backup Job, which applies the same rule there), and writes the
 * status. It looks again when the next run is due.
 */
import { isDeepStrictEqual } from "node:util";
import {
  API_VERSION,
  BACKUP_PLURAL,
  InvalidResourceError,
  SCHEDULED_BACKUP_KIND,
  SCHEDULED_BACKUP_PLURAL,
  parseDynamoBackup,
  parseDynamoScheduledBackup,
  type DynamoBackup,
  type DynamoScheduledBackup,
  type DynamoScheduledBackupStatus,
} from "../api/index.js";
import { isConflict, objectPath, type KubeApi } from "../kube/api-client.js";
import { SCHEDULE_LABEL, decideSchedule } from "../reconcile/backup.js";
import { BACKUP_FIELD_MANAGER, plain } from "./backup-controller.js";
import type { EventRecorder } from "./events.js";

export interface ScheduledBackupControllerDeps {
  api: KubeApi;
  events: EventRecorder;
  log(message: string): void;
  now?: () => number;
}

export class ScheduledBackupController {
  private readonly now: () => number;

  constructor(private readonly deps: ScheduledBackupControllerDeps) {
    this.now = deps.now ?? Date.now;
  }

  async reconcile(key: string): Promise<{ requeueAfterMs?: number } | undefined> {
    const [namespace, name] = key.split("/") as [string, string];
    const api = this.deps.api;
    const raw = await api.find<unknown>(objectPath(API_VERSION, SCHEDULED_BACKUP_PLURAL, namespace, name));
    if (!raw) return undefined;
    let scheduled: DynamoScheduledBackup;
    try {
      scheduled = parseDynamoScheduledBackup(raw);
    } catch (err) {
      if (!(err instanceof InvalidResourceError)) throw err;
      this.deps.log(`${key}: ${err.message}`);
      return undefined;
    }
    scheduled.kind = SCHEDULED_BACKUP_KIND;
    if (scheduled.metadata.deletionTimestamp) return undefined;

    const list = await api.get<{ items: unknown[] }>(
      `${objectPath(API_VERSION, BACKUP_PLURAL, namespace)}?labelSelector=${encodeURIComponent(`${SCHEDULE_LABEL}=${name}`)}`,
    );
    const backups: DynamoBackup[] = [];
    for (const item of list.items) {
      try {
        backups.push(parseDynamoBackup(item));
      } catch (err) {
        if (!(err instanceof InvalidResourceError)) throw err;
      }
    }
    const decision = decideSchedule({ scheduled, backups, nowMs: this.now() });
    if (decision.problem) await this.deps.events.record(scheduled, "Warning", "InvalidSchedule", decision.problem);
    if (decision.create) {
      try {
        await api.create(objectPath(API_VERSION, BACKUP_PLURAL, namespace), decision.create);
        await this.deps.events.record(scheduled, "Normal", "BackupCreated", `created DynamoBackup ${decision.create.metadata.name}`);
      } catch (err) {
        if (!isConflict(err)) throw err;
      }
    }
    for (const victim of decision.delete) {
      const backup = backups.find((b) => b.metadata.name === victim);
      await api.delete(objectPath(API_VERSION, BACKUP_PLURAL, namespace, victim), backup?.metadata.uid ? { uid: backup.metadata.uid } : undefined);
      await this.deps.events.record(scheduled, "Normal", "BackupDeleted", `retention deleted DynamoBackup ${victim}`);
    }
    await this.writeStatus(scheduled, decision.status);
    return { requeueAfterMs: decision.requeueAfterMs };
  }

  private async writeStatus(scheduled: DynamoScheduledBackup, status: DynamoScheduledBackupStatus): Promise<void> {
    if (isDeepStrictEqual(plain(scheduled.status), plain(status))) return;
    await this.deps.api.apply(
      { apiVersion: API_VERSION, kind: SCHEDULED_BACKUP_KIND, metadata: { name: scheduled.metadata.name, namespace: scheduled.metadata.namespace }, status } as never,
      BACKUP_FIELD_MANAGER,
      "status",
    );
  }
}
