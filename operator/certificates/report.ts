/**
 * What the cluster's status and Events say about certificates: the issuer, when the CA and the first certificate
 * expire, the rotation in progress and what it waits for, the last time anything was issued, and the condition
 * `CertificatesReady`. Pure: it reads the planner's decisions and the stored material.
 */
import type { TlsStatus } from "../api/index.js";
import type { AuthorityStep } from "./authority.js";
import type { LeafIssue, LeafTarget } from "./leaves.js";
import { listPods } from "./node-reports.js";
import { renewAtMs } from "./settings.js";

export interface CertificateEvent {
  type: "Normal" | "Warning";
  reason: string;
  message: string;
}

export interface CertificateReport {
  status: TlsStatus;
  ready: boolean;
  /** `Ready`, `Invalid`, `WaitingForIssuer` or `Expired`. */
  reason: string;
  message: string;
  /** Unusable material only the user can fix; the Degraded condition names them too. */
  problems: string[];
  events: CertificateEvent[];
  /** When the operator must look again at the latest: the next renewal falls due, or a rotation's next step. */
  recheckAfterMs?: number;
}

/** How often a CA rotation in progress is looked at: each step waits on what the nodes report. */
export const ROTATION_RECHECK_MS = 10_000;

/**
 * How long until the operator must look at the certificates again: the earliest renewal of a stored certificate (a
 * leaf, the operator's own, the CA's rotation), or the rotation check while a rotation is under way. A stable
 * cluster's 30 s requeue alone would let a short-lived leaf expire between two passes.
 */
export function recheckAfterMs(certificates: { notBeforeMs: number; notAfterMs: number }[], rotating: boolean, nowMs: number): number {
  const due = Math.min(...certificates.map((c) => renewAtMs(c.notBeforeMs, c.notAfterMs)));
  const untilDue = Math.max(0, due - nowMs);
  return rotating ? Math.min(ROTATION_RECHECK_MS, untilDue) : untilDue;
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

function targetLabel(target: LeafTarget): string {
  return target.kind === "peer" ? target.pod : target.kind === "client" ? "the client port" : "the operator";
}

/** One Event for the leaves issued in a pass, grouped by why. */
export function issuedEvent(issues: readonly LeafIssue[]): CertificateEvent | undefined {
  const shown = issues.filter((i) => i.target.kind !== "operator");
  if (shown.length === 0) return undefined;
  const byReason = new Map<string, string[]>();
  for (const issue of shown) byReason.set(issue.reason, [...(byReason.get(issue.reason) ?? []), targetLabel(issue.target)]);
  const parts = [...byReason].map(([reason, targets]) => `${listPods(targets)} (${reason})`);
  return { type: "Normal", reason: "CertificatesIssued", message: `issued certificates for ${parts.join("; ")}, valid until ${iso(shown[0]!.notAfterMs)}` };
}

/** The Event a step of the authority deserves. */
export function authorityEvent(step: AuthorityStep, caNotAfterMs: number | undefined): CertificateEvent | undefined {
  const until = caNotAfterMs !== undefined ? ` (valid until ${iso(caNotAfterMs)})` : "";
  switch (step.kind) {
    case "create":
      return { type: "Normal", reason: "CACreated", message: `${step.reason}${until}` };
    case "begin":
      return { type: "Normal", reason: "CARotationStarted", message: `${step.reason}: the new CA joins the trust bundle first` };
    case "switch":
      return step.forced ? { type: "Warning", reason: "CARotationForced", message: step.reason } : { type: "Normal", reason: "CARotationSwitched", message: step.reason };
    case "retire":
      return { type: "Normal", reason: "CARotationFinished", message: step.reason };
    case "invalid":
      return { type: "Warning", reason: "CertificatesInvalid", message: step.problem };
    case "none":
      return undefined;
  }
}

/** The rotation in progress, in one line, or undefined when none is. */
export function rotationText(step: AuthorityStep, phase: "steady" | "adding" | "retiring"): string | undefined {
  if (phase === "steady") return undefined;
  const what = phase === "adding" ? "the new CA is in every trust bundle" : "certificates move to the new CA; the old one is still trusted";
  return step.kind === "none" && step.waiting ? `${what}: ${step.waiting}` : what;
}

export function lastRotation(previous: TlsStatus | undefined, nowMs: number, happened: string[]): Pick<TlsStatus, "lastRotation" | "lastRotationTime"> {
  if (happened.length === 0) return { lastRotation: previous?.lastRotation, lastRotationTime: previous?.lastRotationTime };
  return { lastRotation: happened.join("; ").slice(0, 512), lastRotationTime: iso(nowMs) };
}

export { iso as isoSeconds };
