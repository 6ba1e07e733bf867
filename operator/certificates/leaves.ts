/**
 * Which leaf certificates to issue in a pass: the nodes' peer certificates (one per pod), the client port's shared
 * certificate, and the operator's own client certificate (kept in memory only). A leaf is issued when it is missing or
 * unusable, when its names no longer match, when less than a third of its span is left, or when it comes from an
 * older CA and every node trusts the signing one. Everything here decides; the caller signs.
 */
import { DEFAULT_CERTIFICATES, backdateMs, renewAtMs, type CertificateSettings } from "./settings.js";
import type { Authority } from "./authority.js";
import type { CertificateSummary } from "./material.js";

export type LeafTarget = { kind: "peer"; pod: string } | { kind: "client" } | { kind: "operator" };

/** A stored leaf as the planner sees it: usable (with the CA that issued it, if any in the bundle) or not. */
export type LeafState = { kind: "missing" } | { kind: "invalid"; problem: string } | { kind: "present"; summary: CertificateSummary; issuer: string | undefined };

export interface LeafInput {
  target: LeafTarget;
  state: LeafState;
  /** The names the leaf must carry. */
  hosts: string[];
}

export interface LeafIssue {
  target: LeafTarget;
  commonName: string;
  hosts: string[];
  notBeforeMs: number;
  notAfterMs: number;
  reason: string;
  /** Missing, unusable or expiring: issued before leaves that only move to a new CA. */
  urgent: boolean;
}

export function targetName(target: LeafTarget): string {
  return target.kind === "peer" ? target.pod : target.kind === "client" ? "the client port" : "the operator";
}

export interface LeavesInput {
  authority: Authority;
  leaves: readonly LeafInput[];
  /** Every running node trusts the signing CA, so leaves may move to it. */
  nodesTrustSigning: boolean;
  settings: CertificateSettings;
  nowMs: number;
  commonNames: { client: string; operator: string };
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

function sameHosts(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((h, i) => h === b[i]);
}

/** Why `leaf` must be issued now, or undefined to keep it. */
function reasonToIssue(leaf: LeafInput, input: LeavesInput, notAfterMs: number): { reason: string; urgent: boolean } | undefined {
  const { authority, nowMs } = input;
  const state = leaf.state;
  if (state.kind === "missing") return { reason: "none was issued yet", urgent: true };
  if (state.kind === "invalid") return { reason: `the stored one is unusable: ${state.problem}`, urgent: true };
  const current = state.summary;
  if (current.notAfterMs <= nowMs) return { reason: `it expired at ${iso(current.notAfterMs)}`, urgent: true };
  if (state.issuer === undefined) return { reason: "it was not issued by a CA the cluster trusts", urgent: true };
  if (!sameHosts(current.hosts, [...leaf.hosts].sort())) return { reason: "the names it must carry changed", urgent: true };
  // A leaf cannot outlive the CA that signs it; renewing one that the new leaf would not outlast only churns.
  if (nowMs >= renewAtMs(current.notBeforeMs, current.notAfterMs) && notAfterMs > current.notAfterMs) {
    return { reason: `it expires at ${iso(current.notAfterMs)}`, urgent: true };
  }
  const signing = authority.signing.summary;
  if (state.issuer !== signing.fingerprint) {
    const issuer = authority.retired.find((c) => c.summary.fingerprint === state.issuer)?.summary;
    const issuerEnding = issuer !== undefined && nowMs >= issuer.notAfterMs - (issuer.notAfterMs - issuer.notBeforeMs) * DEFAULT_CERTIFICATES.forceSwitchFraction;
    if (input.nodesTrustSigning || issuerEnding) return { reason: "it moves to the new CA", urgent: false };
  }
  return undefined;
}

/** The leaves to issue in this pass, most urgent first, at most `leavesPerPassMax`. */
export function planLeaves(input: LeavesInput): LeafIssue[] {
  const lifetimeMs = input.settings.certificateLifetimeMs;
  const notBeforeMs = input.nowMs - backdateMs(lifetimeMs);
  const notAfterMs = Math.min(input.nowMs + lifetimeMs, input.authority.signing.summary.notAfterMs);
  const issues: LeafIssue[] = [];
  for (const leaf of input.leaves) {
    const why = reasonToIssue(leaf, input, notAfterMs);
    if (!why) continue;
    const commonName = leaf.target.kind === "peer" ? leaf.target.pod : leaf.target.kind === "client" ? input.commonNames.client : input.commonNames.operator;
    issues.push({ target: leaf.target, commonName, hosts: [...leaf.hosts].sort(), notBeforeMs, notAfterMs, reason: why.reason, urgent: why.urgent });
  }
  const ordered = [...issues.filter((i) => i.urgent), ...issues.filter((i) => !i.urgent)];
  return ordered.slice(0, DEFAULT_CERTIFICATES.leavesPerPassMax);
}
