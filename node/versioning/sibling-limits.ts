/**
 * Sibling limits. Clients that keep writing blind (without a context) or never resolve conflicts make a key grow one
 * sibling per write; in Riak this produced objects with about a thousand siblings and a gigabyte of data
 * (riak_cs#882), which then slowed every read, sync and repair of the key. The coordinator checks the result of
 * `update` and refuses a write that would take the key past `max` (the client must read and resolve first), and warns
 * past `warn`. Replica syncs and repairs are never refused: refusing them would leave replicas diverged forever
 * (riak_kv#1156), and a merge cannot hold more siblings than the writes that were already accepted.
 */
import type { VersionedRecord } from "./types.js";

export interface SiblingLimits {
  /** Above this many siblings (tombstones included) a write succeeds but is reported. */
  warn: number;
  /** Above this many siblings (tombstones included) a write is refused. */
  max: number;
}

export const DEFAULT_SIBLING_LIMITS: Readonly<SiblingLimits> = Object.freeze({ warn: 25, max: 100 });

export type SiblingVerdict = "ok" | "warn" | "refuse";

/** Judges the record a write would produce (the result of `update`) against the limits. */
export function siblingCheck(record: VersionedRecord, limits: SiblingLimits = DEFAULT_SIBLING_LIMITS): SiblingVerdict {
  const count = record.siblings.length;
  if (count > limits.max) return "refuse";
  if (count > limits.warn) return "warn";
  return "ok";
}
