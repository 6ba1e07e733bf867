/**
 * The versioning data model. A stored record carries a causal clock (what its writers had seen) and every sibling
 * still alive, each tagged with the dot (actor, counter) of the write that created it. Tombstones are siblings whose
 * value is null, so a delete is versioned like any write.
 */

/** Maps an actor id to the highest counter of that actor that this clock has seen. */
export type VersionVector = Record<string, number>;

export interface Dot {
  actor: string;
  counter: number;
}

/** Hybrid logical clock timestamp: wall-clock milliseconds, then a logical counter for ties. */
export interface Hlc {
  ms: number;
  logical: number;
}

export interface Sibling {
  dot: Dot;
  /** null marks a tombstone. */
  value: Buffer | null;
  contentType: string;
  timestamp: Hlc;
}

export interface VersionedRecord {
  clock: VersionVector;
  siblings: Sibling[];
}

export type Reconciliation = "siblings" | "lww";
