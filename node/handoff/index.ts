/** Moving data between nodes: hints for members that were down, and rebuilds of members that lost their disk. */
export { HintStore, hintKey } from "./hint-store.js";
export type { HintLimits, HintRef, HintEvents } from "./hint-store.js";
export { HintDelivery } from "./hint-delivery.js";
export type { HintDeliveryDeps } from "./hint-delivery.js";
export { Rebuilder } from "./rebuild.js";
export type { RebuildDeps } from "./rebuild.js";
export { partitionSourceHandlers } from "./partition-source.js";
export { TransferReceiver, transferId } from "./transfer-receiver.js";
export { PAGE_RECORDS_MIN, pageLimit, streamPartition } from "./partition-stream.js";
export type { ReplicaAccess, StreamCursor, PartitionStreamOptions } from "./partition-stream.js";
export type { TransferProgress, TransferReceiverDeps } from "./transfer-receiver.js";
export { AdaptivePace } from "./adaptive-pace.js";
export { GcPauses } from "./gc-pauses.js";
export { LatencyWindow } from "./latency-window.js";
export type { AdaptivePaceOptions, PaceState } from "./adaptive-pace.js";
export { PartitionJanitor } from "./janitor.js";
export type { JanitorDeps } from "./janitor.js";
