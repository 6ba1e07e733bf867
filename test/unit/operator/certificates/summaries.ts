// Hand-written certificates for the planners' tests: summaries with made-up fingerprints, no cryptography, so each
// case states exactly the validity and issuer it is about.
import type { Authority, Certificate, CertificateSettings, KeyedCertificate, LeafState, NodeTlsReport } from "../../../../operator/certificates/index.js";

export const T0 = 1_800_000_000_000;
export const SECOND = 1000;
export const DAY = 24 * 3600 * SECOND;

let serial = 0;
export function fingerprint(label: string): string {
  serial++;
  return (Buffer.from(`${label}:${serial}`).toString("hex") + "0".repeat(64)).slice(0, 64);
}

export function ca(label: string, notBeforeMs: number, notAfterMs: number): KeyedCertificate {
  return { cert: `cert of ${label}`, key: `key of ${label}`, summary: { fingerprint: fingerprint(label), commonName: label, notBeforeMs, notAfterMs, isCa: true, hosts: [] } };
}

export function trusted(c: KeyedCertificate): Certificate {
  return { cert: c.cert, summary: c.summary };
}

export function leaf(issuer: KeyedCertificate | undefined, notBeforeMs: number, notAfterMs: number, hosts: string[] = []): LeafState {
  return { kind: "present", summary: { fingerprint: fingerprint("leaf"), commonName: "leaf", notBeforeMs, notAfterMs, isCa: false, hosts: [...hosts].sort() }, issuer: issuer?.summary.fingerprint };
}

export function settings(overrides: Partial<CertificateSettings> = {}): CertificateSettings {
  return { certificateLifetimeMs: 90 * DAY, caLifetimeMs: 3650 * DAY, rotationRequest: undefined, ...overrides };
}

export function authority(signing: KeyedCertificate, extra: Partial<Authority> = {}): Authority {
  return { signing, retired: [], ...extra };
}

/** A running node that answered, trusting `cas` and presenting a certificate with fingerprint `cert`. */
export function node(pod: string, cas: KeyedCertificate[], cert = "f".repeat(64)): NodeTlsReport {
  return { pod, reachable: true, peer: { caFingerprints: cas.map((c) => c.summary.fingerprint), certFingerprint: cert, certNotAfter: "" } };
}
