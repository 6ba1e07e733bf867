/**
 * The data the backup tests write before a backup (test/k8s/backup, and the shape test/integration/backup.test.ts
 * writes too): keys of several kinds, each written so that what a restore must bring back is known. A blind write
 * retried after a timeout may add a sibling, so the writer reads every key back afterwards, and what it reads then is
 * what the restore must reproduce.
 */
import type { DynamoClient } from "../../client/index.js";
import { retry } from "./replicas.js";

/**
 * plain: one write; siblings: two blind writes, so both stay; deleted: written, then deleted with a read's context;
 * lww: two writes to a last-writer-wins bucket; single: one write to a bucket of one replica.
 */
export type BackupKind = "plain" | "siblings" | "deleted" | "lww" | "single";

export interface BackupEntry {
  bucket: string;
  key: string;
  kind: BackupKind;
  /** What a read of every replica returns once written: the values, sorted (empty for a deleted key). */
  values: string[];
}

/**
 * Writes `e` as its kind asks, each request retried. `read` reads the key from all its replicas: a delete takes the
 * context of a full read, and is sent again until the key reads as gone, so no retried write survives it.
 */
export async function writeEntry(client: DynamoClient, e: BackupEntry, read: () => ReturnType<DynamoClient["get"]>): Promise<void> {
  const v = (n: number) => `${e.key}-v${n}`;
  if (e.kind === "siblings") {
    // Two blind writes: neither has seen the other, so both stay.
    await retry(() => client.put(e.bucket, e.key, v(1)));
    await retry(() => client.put(e.bucket, e.key, v(2)));
  } else if (e.kind === "deleted") {
    await retry(() => client.put(e.bucket, e.key, v(1)));
    for (let attempt = 1; attempt <= 5; attempt++) {
      const got = await retry(read);
      if (got.kind === "not_found") break;
      await retry(() => client.delete(e.bucket, e.key, { context: got.context }));
    }
  } else if (e.kind === "lww") {
    await retry(() => client.put(e.bucket, e.key, v(1)));
    // A later timestamp for the second write, so last-writer-wins has one answer.
    await new Promise((r) => setTimeout(r, 2));
    await retry(() => client.put(e.bucket, e.key, v(2)));
  } else {
    await retry(() => client.put(e.bucket, e.key, v(1)));
  }
}
