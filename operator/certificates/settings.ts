/**
 * When certificates are renewed and how a CA rotation is paced, in one place. The rules are fractions of a
 * certificate's own span (the time between its notBefore and notAfter), so they hold for the ninety-day default and
 * for the few minutes a test asks for alike.
 */
import type { DynamoCluster } from "../api/index.js";

export const DEFAULT_CERTIFICATES = {
  /** A certificate is renewed once less than this fraction of its span is left (cert-manager's default too). */
  renewFraction: 1 / 3,
  /**
   * How long the new CA sits in every trust bundle before nodes present certificates issued by it: time for clients
   * that read the published CA to pick the new one up. The twelfth of the CA's lifetime, at most a day.
   */
  overlapFraction: 1 / 12,
  overlapMsMax: 24 * 60 * 60 * 1000,
  /**
   * Once less than this fraction of the old CA's span is left, the switch to the new CA no longer waits for nodes
   * that have not confirmed the new bundle: a node that cannot be asked is better cut off than the whole cluster
   * left with certificates that expire.
   */
  forceSwitchFraction: 1 / 12,
  /** Certificates start this long before they are issued, so a node whose clock is behind accepts them. */
  backdateMsMax: 5 * 60 * 1000,
  backdateFraction: 1 / 10,
  /** Leaves issued in one pass, at most; the rest follow in the next passes (a CA switch re-issues every one). */
  leavesPerPassMax: 256,
};

export interface CertificateSettings {
  certificateLifetimeMs: number;
  caLifetimeMs: number;
  /** The value of the rotation annotation, when the user asked for a CA rotation. */
  rotationRequest: string | undefined;
}

/** Asking for a new CA now: set this annotation on the DynamoCluster to any new value (a date, say). */
export const ROTATE_CA_ANNOTATION = "dynamo.ringkv.dev/rotate-ca";

export function certificateSettings(cluster: DynamoCluster): CertificateSettings {
  const tls = cluster.spec.tls;
  const request = cluster.metadata.annotations?.[ROTATE_CA_ANNOTATION];
  return {
    certificateLifetimeMs: tls.certificateLifetimeSeconds * 1000,
    caLifetimeMs: tls.caLifetimeSeconds * 1000,
    rotationRequest: request === undefined || request === "" ? undefined : request,
  };
}

/** How far before now a certificate issued now starts. */
export function backdateMs(lifetimeMs: number): number {
  return Math.min(DEFAULT_CERTIFICATES.backdateMsMax, Math.floor(lifetimeMs * DEFAULT_CERTIFICATES.backdateFraction));
}

/** The instant after which a certificate with these bounds is due for renewal. */
export function renewAtMs(notBeforeMs: number, notAfterMs: number): number {
  return notAfterMs - (notAfterMs - notBeforeMs) * DEFAULT_CERTIFICATES.renewFraction;
}

export function overlapMs(caLifetimeMs: number): number {
  return Math.min(DEFAULT_CERTIFICATES.overlapMsMax, Math.floor(caLifetimeMs * DEFAULT_CERTIFICATES.overlapFraction));
}
