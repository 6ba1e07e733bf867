/** The node's account of itself for people and tools: its recent history, and the view `GET /v1/node` answers. */
export { NodeStatsCollector, DEFAULT_COLLECTOR, lateMs, snapshot } from "./collector.js";
export type { StatsSources } from "./collector.js";
export { NodeHistory, DEFAULT_HISTORY, OPS, quantileMs } from "./history.js";
export type { CounterSnapshot, HistoryPoint, Op, Totals } from "./history.js";
export { nodeStatsSchema, transferViewSchema, historyPointSchema } from "./view.js";
export type { NodeStats, TransferView, HistoryPointView } from "./view.js";
