/** The kubectl plugin: its entry point, and the pure screens it draws (exported for tests). */
export { runKubectlPlugin, failure, parsePluginCommandLine, PLUGIN_USAGE } from "./plugin.js";
export type { PluginInvocation } from "./plugin.js";
export { renderStatus, renderRing, ringJson, ringMoves, advice } from "./render.js";
export { gatherStatus } from "./model.js";
export type { StatusModel, MemberRow, ClusterRing } from "./model.js";
export { redact, tar } from "./report.js";
export { Session } from "./session.js";
export type { NodeAccess, SessionOptions } from "./session.js";
