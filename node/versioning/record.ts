/**
 * Versioned records: how a write, a replica sync and a read-side resolution change a key's stored state. This is the
 * dotted-version-vector scheme: each sibling carries the dot of the write that created it, and the record's clock says
 * which writes the record has seen. A sibling disappears only when a record that has seen its dot no longer holds it,
 * which means some write's context covered it, that is, a client read it and wrote something in its place. Nothing is
 * ever dropped because of wall-clock time or arrival order (except in `lww` buckets, by request), so concurrent writes
 * survive as siblings instead of being silently lost, and writes that follow each other causally never create siblings.
 *
 * Everything here is pure. Records are treated as immutable values: results may share siblings (and their value
 * buffers) with the inputs, so callers must not modify a record after handing it in.
 */
import type { Hlc, Reconciliation, Sibling, VersionedRecord, VersionVector } from "./types.js";
import { compareHlc } from "./hlc.js";
import {
  clocksEqual,
  compareDots,
  counterOf,
  covers,
  isValidActor,
  isValidCounter,
  mergeClocks,
  sameDot,
} from "./version-vector.js";

export interface Write {
  /** The new value, or null to delete (the delete is stored as a tombstone sibling). */
  value: Buffer | null;
  contentType: string;
  timestamp: Hlc;
}

export interface UpdateOptions {
  /**
   * A lower bound for the new dot's counter. A node that reaps tombstones forgets the dots it issued for those keys;
   * by passing a node-wide counter that only grows (for example a persisted high-water mark of every counter it has
   * issued under `actor`), it never reuses a counter, even for a key it has forgotten entirely. See `isReapable`.
   */
  counterFloor?: number;
}

/**
 * Applies a coordinator's new write to the local record of the key, given the causal context the client sent (the
 * clock of the version it read; an empty context is a blind write, which becomes a sibling of everything).
 *
 * The new sibling gets the dot (actor, n) with n one past the highest counter of `actor` in the local record, the
 * context and `options.counterFloor`. Local siblings whose dots the context covers are replaced; the others stay as
 * siblings of the new one. The result's clock has seen everything the local record and the context have seen.
 *
 * Requirement on the caller (Riak kv679): the caller must hold every dot it ever issued under `actor` for this key,
 * either in `local` or covered by `local.clock`. If a node discards data it may have written (a wiped disk, a restored
 * backup, a reaped tombstone), it must stop using `actor` for that key and take a new actor id (a new incarnation),
 * or guarantee fresh counters through `counterFloor`. Otherwise it would issue a dot that another replica has already
 * seen for an older write, that replica would treat the new write as already superseded, and sync or read repair
 * would erase an acknowledged write. `forgotOwnWrites` detects the case when the client's context reveals it.
 */
export function update(
  local: VersionedRecord | undefined,
  context: VersionVector,
  write: Write,
  actor: string,
  options: UpdateOptions = {},
): VersionedRecord {
  if (!isValidActor(actor)) throw new Error(`invariant violated: invalid actor id ${JSON.stringify(actor)}`);
  const counter =
    Math.max(counterOf(local?.clock, actor), counterOf(context, actor), Math.floor(options.counterFloor ?? 0)) + 1;
  if (!isValidCounter(counter)) throw new Error(`invariant violated: new counter ${counter} for ${actor} is not usable`);
  const clock = mergeClocks(local?.clock ?? {}, context);
  clock[actor] = counter;
  const siblings = (local?.siblings ?? []).filter((sibling) => !covers(context, sibling.dot));
  siblings.push({
    dot: { actor, counter },
    value: write.value,
    contentType: write.contentType,
    timestamp: { ms: write.timestamp.ms, logical: write.timestamp.logical },
  });
  siblings.sort(compareSiblings);
  return { clock, siblings };
}

/**
 * Whether the client's context shows that this node once issued a dot under `actor` that its local record no longer
 * knows about. A node's own clock entry only ever grows while it keeps its data, so this is proof the node has lost
 * data for the key: it must not coordinate the write under `actor` (see `update`). It cannot detect the loss when the
 * client sends no context, which is why a node that loses its disk must take a new actor id unconditionally.
 */
export function forgotOwnWrites(local: VersionedRecord | undefined, context: VersionVector, actor: string): boolean {
  return counterOf(context, actor) > counterOf(local?.clock, actor);
}

/**
 * Replica synchronization (replication, read repair, hinted handoff, anti-entropy): the state that has seen both
 * inputs. A sibling of one side survives unless the other side has seen its dot and no longer holds it, which means
 * the other side saw a write that replaced it. Commutative, associative and idempotent, so replicas converge whatever
 * order syncs happen in. Dots name writes uniquely, so when both sides hold the same dot the copy from `a` is kept.
 */
export function merge(
  a: VersionedRecord | undefined,
  b: VersionedRecord | undefined,
): VersionedRecord | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  const siblings: Sibling[] = [];
  for (const sibling of a.siblings) {
    if (!covers(b.clock, sibling.dot) || holdsDot(b, sibling)) siblings.push(sibling);
  }
  for (const sibling of b.siblings) {
    if (!covers(a.clock, sibling.dot) && !holdsDot(a, sibling)) siblings.push(sibling);
  }
  siblings.sort(compareSiblings);
  return { clock: mergeClocks(a.clock, b.clock), siblings: dedupeSorted(siblings) };
}

/**
 * Last-writer-wins resolution for `lww` buckets: keeps only the sibling with the greatest timestamp, with the dot as
 * a tie-breaker so every replica picks the same one. The clock is unchanged, so the discarded siblings stay covered
 * and a later sync cannot bring them back. This loses concurrent writes by design; that is what `lww` asks for.
 */
export function resolveLww(record: VersionedRecord): VersionedRecord {
  if (record.siblings.length <= 1) return record;
  let winner = record.siblings[0] as Sibling;
  for (const sibling of record.siblings) {
    if (compareLww(sibling, winner) > 0) winner = sibling;
  }
  return { clock: record.clock, siblings: [winner] };
}

/** Applies the bucket's reconciliation mode: `lww` resolves to one sibling, `siblings` keeps them all. */
export function reconcile(record: VersionedRecord, mode: Reconciliation): VersionedRecord {
  return mode === "lww" ? resolveLww(record) : record;
}

/** The siblings that hold a value (not tombstones), in canonical order. */
export function liveSiblings(record: VersionedRecord): Sibling[] {
  return record.siblings.filter((sibling) => sibling.value !== null);
}

/** Whether the record holds no value at all, so a read answers 404. True for a record without siblings. */
export function isTombstoneOnly(record: VersionedRecord): boolean {
  return record.siblings.every((sibling) => sibling.value === null);
}

/**
 * Whether two replicas hold the same version of a key: the same clock and the same set of sibling dots. Read repair
 * sends the merged record to every replica for which this is false. `undefined` stands for a replica without the key.
 */
export function sameVersion(a: VersionedRecord | undefined, b: VersionedRecord | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  if (a.siblings.length !== b.siblings.length || !clocksEqual(a.clock, b.clock)) return false;
  return a.siblings.every((sibling) => holdsDot(b, sibling));
}

/**
 * Whether a deleted key can be removed from storage: every sibling is a tombstone and the newest of them is older
 * than `graceMs`. The grace period must outlast every way a replica could still hold the key's older value (hints
 * waiting for delivery, an anti-entropy round, a partitioned replica); a replica that reaps too early lets a stale
 * copy come back to life on the next sync. Reaping also forgets dots: see `update` for what that requires of the
 * node that issued them.
 */
export function isReapable(record: VersionedRecord, nowMs: number, graceMs: number): boolean {
  if (record.siblings.length === 0 || !isTombstoneOnly(record)) return false;
  let newestMs = -Infinity;
  for (const sibling of record.siblings) newestMs = Math.max(newestMs, sibling.timestamp.ms);
  return nowMs - newestMs > graceMs;
}

/** Canonical sibling order, by dot. */
export function compareSiblings(a: Sibling, b: Sibling): number {
  return compareDots(a.dot, b.dot);
}

function compareLww(a: Sibling, b: Sibling): number {
  return compareHlc(a.timestamp, b.timestamp) || compareDots(a.dot, b.dot);
}

function holdsDot(record: VersionedRecord, sibling: Sibling): boolean {
  return record.siblings.some((candidate) => sameDot(candidate.dot, sibling.dot));
}

/** Removes adjacent siblings with the same dot from a sorted list, keeping the first. */
function dedupeSorted(siblings: Sibling[]): Sibling[] {
  return siblings.filter(
    (sibling, index) => index === 0 || !sameDot((siblings[index - 1] as Sibling).dot, sibling.dot),
  );
}
