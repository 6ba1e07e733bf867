/**
 * Which backups a retention policy lets go: a pure function of the backups, the policy and the time, so scheduled
 * backups and a person's `dynamo backup` agree on it and it is tested without a store. Two rules never bend: a backup
 * still running is never deleted, and neither is the newest complete one, whatever the policy says.
 */
export interface RetentionPolicy {
  /** Complete backups to keep, newest first; undefined for no count limit. */
  keepLast?: number;
  /** Backups older than this (by start time) may go; undefined for no age limit. */
  maxAgeMs?: number;
}

export interface RetentionCandidate {
  id: string;
  state: "complete" | "running" | "failed" | "incomplete";
  /** Milliseconds since the epoch. */
  startedAtMs: number;
}

/** The ids to delete, oldest first. */
export function retentionVictims(backups: RetentionCandidate[], policy: RetentionPolicy, nowMs: number): string[] {
  const byAge = [...backups].sort((a, b) => b.startedAtMs - a.startedAtMs || (a.id < b.id ? 1 : -1));
  const complete = byAge.filter((b) => b.state === "complete");
  const newestComplete = complete[0];
  const victims = new Set<string>();
  if (policy.keepLast !== undefined) for (const b of complete.slice(Math.max(1, policy.keepLast))) victims.add(b.id);
  for (const b of byAge) {
    if (policy.maxAgeMs !== undefined && nowMs - b.startedAtMs > policy.maxAgeMs) victims.add(b.id);
    // A failed or abandoned backup older than the newest complete one has been superseded.
    if ((b.state === "failed" || b.state === "incomplete") && newestComplete && b.startedAtMs < newestComplete.startedAtMs) victims.add(b.id);
  }
  if (newestComplete) victims.delete(newestComplete.id);
  for (const b of byAge) if (b.state === "running") victims.delete(b.id);
  return byAge.filter((b) => victims.has(b.id)).reverse().map((b) => b.id);
}
