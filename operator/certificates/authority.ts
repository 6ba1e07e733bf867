/**
 * The cluster's certificate authority and its rotation, as pure decisions. The authority is kept in Secret `X-ca-key`:
 * the signing CA (`tls.crt`, `tls.key`), during a rotation the incoming CA (`next.crt`, `next.key`), and `ca.crt`, the
 * bundle of every CA nodes must trust now. A rotation never leaves two nodes unable to talk:
 *
 * 1. begin: a new CA joins the bundle; certificates are still issued by the old one. The bundle reaches every node
 *    (through the mounted Secret) and clients (through the published ConfigMap `X-ca`).
 * 2. switch: once every running node reports that it trusts the new CA, and clients have had the overlap to fetch it,
 *    the new CA signs; every certificate is issued again from it while the old CA stays in the bundle.
 * 3. retire: once every node presents a certificate from the new CA, the old one leaves the bundle.
 *
 * A rotation begins when less than a third of the signing CA's span is left, or when the user sets the annotation
 * `dynamo.ringkv.dev/rotate-ca` to a new value. One step per pass, each decided from what the Secrets hold and what the
 * nodes report, so a restarted operator carries on where the last one stopped.
 */
import { DEFAULT_CERTIFICATES, ROTATE_CA_ANNOTATION, overlapMs, renewAtMs, type CertificateSettings } from "./settings.js";
import type { Certificate, CertificateSummary, KeyedCertificate } from "./material.js";
import { listPods, notTrusting, type NodeTlsReport } from "./node-reports.js";

export interface Authority {
  signing: KeyedCertificate;
  /** The incoming CA, in the bundle but not signing yet. */
  next?: KeyedCertificate;
  /** When `next` joined the bundle. */
  nextSinceMs?: number;
  /** CAs still trusted but no longer signing (the old CA after a switch, or one whose key was lost). */
  retired: Certificate[];
  /** The last rotation request (annotation value) acted upon. */
  handledRequest?: string;
}

export type AuthorityRead = { kind: "missing" } | { kind: "invalid"; problem: string } | { kind: "ok"; authority: Authority };

export type AuthorityStep =
  | { kind: "none"; waiting?: string }
  | { kind: "invalid"; problem: string }
  | { kind: "create"; trust: Certificate[]; reason: string }
  | { kind: "begin"; reason: string }
  | { kind: "switch"; reason: string; forced: boolean }
  | { kind: "retire"; fingerprints: string[]; reason: string };

export interface AuthorityInput {
  read: AuthorityRead;
  /** The bundle the nodes were last given (the peer Secret's ca.crt): what they trust if the CA Secret was lost. */
  distributed: readonly Certificate[];
  /** Running nodes and what they use. */
  nodes: readonly NodeTlsReport[];
  /** Every stored certificate (peer, client, the operator's own) is issued by the signing CA. */
  leavesFromSigning: boolean;
  /** The running nodes that do not yet present the certificates stored for them. */
  nodesNotServing: readonly string[];
  settings: CertificateSettings;
  nowMs: number;
}

export function trustBundle(authority: Authority): Certificate[] {
  return [authority.signing, ...(authority.next ? [authority.next] : []), ...authority.retired];
}

const spanMs = (c: CertificateSummary) => c.notAfterMs - c.notBeforeMs;
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

/** The next step of the authority, or why none is taken. */
export function planAuthority(input: AuthorityInput): AuthorityStep {
  const { read, nowMs, settings } = input;
  if (read.kind === "invalid") return { kind: "invalid", problem: read.problem };
  if (read.kind === "missing") {
    const trust = input.distributed.filter((c) => c.summary.isCa && c.summary.notAfterMs > nowMs);
    return {
      kind: "create",
      trust,
      reason:
        trust.length > 0
          ? "the CA Secret is gone: a new CA signs from now on, and the nodes keep trusting the old one until they all hold certificates from the new"
          : "created the cluster's CA",
    };
  }
  const authority = read.authority;
  const signing = authority.signing.summary;
  const expired = authority.retired.filter((c) => c.summary.notAfterMs <= nowMs);
  if (expired.length > 0) {
    return { kind: "retire", fingerprints: expired.map((c) => c.summary.fingerprint), reason: "dropped expired CAs from the trust bundle" };
  }

  if (authority.next) {
    const next = authority.next.summary;
    const since = authority.nextSinceMs ?? next.notBeforeMs;
    const publishedUntil = since + overlapMs(spanMs(next));
    const pending = notTrusting(input.nodes, next.fingerprint);
    const forced = nowMs >= signing.notAfterMs - spanMs(signing) * DEFAULT_CERTIFICATES.forceSwitchFraction;
    if (pending.length === 0 && nowMs >= publishedUntil) {
      return { kind: "switch", forced: false, reason: "every node trusts the new CA: certificates are issued from it now" };
    }
    if (forced) {
      return {
        kind: "switch",
        forced: true,
        reason: `the old CA expires at ${iso(signing.notAfterMs)}: switching to the new CA although ${pending.length > 0 ? `${listPods(pending)} did not confirm trusting it` : "clients had less than the usual overlap to fetch it"}`,
      };
    }
    return {
      kind: "none",
      waiting: pending.length > 0 ? `waiting for ${listPods(pending)} to load the new CA` : `the new CA is published; nodes present certificates from it after ${iso(publishedUntil)}`,
    };
  }

  const requested = settings.rotationRequest !== undefined && settings.rotationRequest !== authority.handledRequest;
  const due = nowMs >= renewAtMs(signing.notBeforeMs, signing.notAfterMs);
  if (due || requested) {
    return {
      kind: "begin",
      reason: requested
        ? `rotating the CA as asked (${ROTATE_CA_ANNOTATION}=${settings.rotationRequest})`
        : `rotating the CA, which expires at ${iso(signing.notAfterMs)}`,
    };
  }

  if (authority.retired.length > 0) {
    if (input.leavesFromSigning && input.nodesNotServing.length === 0) {
      return { kind: "retire", fingerprints: authority.retired.map((c) => c.summary.fingerprint), reason: "every node presents a certificate from the new CA: the old CA is no longer trusted" };
    }
    return {
      kind: "none",
      waiting: input.leavesFromSigning ? `waiting for ${listPods(input.nodesNotServing)} to load certificates from the new CA` : "issuing certificates from the new CA",
    };
  }
  return { kind: "none" };
}

/** The authority after `step`; `fresh` is the CA the caller generated for a create or begin step. */
export function applyAuthorityStep(authority: Authority | undefined, step: AuthorityStep, fresh: KeyedCertificate | undefined, nowMs: number, settings: CertificateSettings): Authority | undefined {
  switch (step.kind) {
    case "none":
    case "invalid":
      return authority;
    case "create":
      if (!fresh) throw new Error("creating a CA needs the new CA's material");
      return { signing: fresh, retired: step.trust.filter((c) => c.summary.fingerprint !== fresh.summary.fingerprint), handledRequest: settings.rotationRequest };
    case "begin":
      if (!authority || !fresh) throw new Error("beginning a rotation needs the current authority and the new CA");
      return { ...authority, next: fresh, nextSinceMs: nowMs, handledRequest: settings.rotationRequest ?? authority.handledRequest };
    case "switch":
      if (!authority?.next) throw new Error("switching needs an incoming CA");
      return {
        signing: authority.next,
        retired: [{ cert: authority.signing.cert, summary: authority.signing.summary }, ...authority.retired],
        handledRequest: authority.handledRequest,
      };
    case "retire":
      if (!authority) throw new Error("retiring needs an authority");
      return { ...authority, retired: authority.retired.filter((c) => !step.fingerprints.includes(c.summary.fingerprint)) };
  }
}

/** Whether the step needs a newly generated CA. */
export function needsNewCa(step: AuthorityStep): boolean {
  return step.kind === "create" || step.kind === "begin";
}
