/**
 * Versioning: how concurrent writes to one key are ordered, kept as siblings, replaced, synced between replicas,
 * resolved for `lww` buckets, and serialized for disk, peers and clients. Pure functions only; the storage node and
 * the coordinator do the I/O. See docs/versioning.md for the model.
 */
export type { Dot, Hlc, Reconciliation, Sibling, VersionedRecord, VersionVector } from "./types.js";

export type { ClockOrder } from "./version-vector.js";
export {
  ACTOR_BYTES_MAX,
  clocksEqual,
  compareClocks,
  compareDots,
  counterOf,
  covers,
  descends,
  isValidActor,
  mergeClocks,
} from "./version-vector.js";

export { compareHlc, HybridClock } from "./hlc.js";

export type { UpdateOptions, Write } from "./record.js";
export {
  forgotOwnWrites,
  isReapable,
  isTombstoneOnly,
  liveSiblings,
  merge,
  reconcile,
  resolveLww,
  sameVersion,
  update,
} from "./record.js";

export type { SiblingLimits, SiblingVerdict } from "./sibling-limits.js";
export { DEFAULT_SIBLING_LIMITS, siblingCheck } from "./sibling-limits.js";

export type { ContextLimits } from "./context.js";
export { CONTEXT_LIMITS, decodeContext, encodeContext, encodeContextOfRecord } from "./context.js";

export type { DecodeOptions, RecordSummary } from "./codec.js";
export { checkRecord, clockCovers, CorruptRecordError, decodeRecord, encodedRecordBytes, encodeRecord, RECORD_FORMAT_VERSION, withOwnValues } from "./codec.js";
