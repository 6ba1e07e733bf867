/**
 * The ring: which partition a key is in, who owns each partition, and how ownership changes when members come and go.
 * Pure functions of their inputs, with no I/O, shared by the storage node, the RingDriver and the operator.
 */
export type { Member, MemberState, Ring, Transfer } from "./types.js";
export { DEFAULT_PARTITIONS, PARTITIONS_MAX, isPowerOfTwo, keyDigest, partitionOf } from "./hash.js";
export { fallbackList, ownedPartitions, pendingTransfers, preferenceList } from "./preference-list.js";
export { canonicalMembers, compareIds, minimumMoves, movedPartitions, partitionsPerMember, quotasFor } from "./balance.js";
export { spacingFeasible, spacingViolations } from "./spacing.js";
export { initialClaim, planClaim } from "./claim.js";
export { replicaSpreadByZone, zoneSpread, zoneSpreadFeasible, zoneViolations } from "./zones.js";
export type { ZoneMap } from "./zones.js";
export { createRing, newestRing, parseRing, ringSchema, zoneName, zonesOf } from "./ring-value.js";
export {
  describeProgress,
  formatBytes,
  formatDuration,
  percentMoved,
  rebalanceProgress,
  rebalanceSeconds,
  rebalanceStatus,
  transferKey,
} from "./progress.js";
export type { RebalanceProgress, RebalanceSummary, TransferReportEntry } from "./progress.js";
export {
  MISDIRECTED_HEADER,
  RING_VERSION_HEADER,
  compareRingVersions,
  decodeRingView,
  encodeRingView,
  parseRingVersion,
  replicasOf,
  ringVersion,
} from "./client-view.js";
export type { DecodedRingView, RingVersion, RingView } from "./client-view.js";
