/** Persistence of versioned records on classic-level, partition by partition. */
export { Store } from "./store.js";
export type { StoredEntry, BatchOp } from "./store.js";
export { dataKey, recordId, recordKey, type RecordKey, partitionRange, parseDataKey, metaKey, HINT_PREFIX, DATA_PREFIX, META_PREFIX } from "./keys.js";
export { TombstoneReaper } from "./tombstone-reaper.js";
export type { ReaperOptions } from "./tombstone-reaper.js";
