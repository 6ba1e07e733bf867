/** What a storage node does for backups and restores beyond serving scans: merging restored pages. */
export { mergePageHandlers } from "./merge-page.js";
export type { MergePageDeps } from "./merge-page.js";
