/**
 * Certificates as plain values: what the planner needs to know about a PEM certificate (fingerprint, validity, names,
 * whether it is a CA, who signed it), read once with Node's own X.509 support. Everything after this is decided on
 * these summaries, so the decisions can be tested with summaries written by hand.
 */
import { X509Certificate, createPrivateKey } from "node:crypto";
import { splitPemBundle } from "../../node/tls/index.js";

export interface CertificateSummary {
  /** SHA-256 of the DER, lower-case hex without colons (the form nodes report in their admin info). */
  fingerprint: string;
  commonName: string;
  notBeforeMs: number;
  notAfterMs: number;
  isCa: boolean;
  /** Subject alternative names, DNS names and IP addresses alike, sorted. */
  hosts: string[];
}

/** A certificate with its PEM text, and its private key when the operator holds it. */
export interface Certificate {
  cert: string;
  summary: CertificateSummary;
}

export interface KeyedCertificate extends Certificate {
  key: string;
}

export class InvalidMaterialError extends Error {
  readonly code = "invalid_certificate_material";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "InvalidMaterialError";
  }
}

function parse(pem: string, what: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (err) {
    throw new InvalidMaterialError(`${what} does not parse as a PEM certificate: ${(err as Error).message}`, { cause: err });
  }
}

export function summarize(pem: string, what = "a certificate"): CertificateSummary {
  const cert = parse(pem, what);
  return {
    fingerprint: cert.fingerprint256.replace(/:/g, "").toLowerCase(),
    commonName: /CN=([^\n,]*)/.exec(cert.subject)?.[1] ?? "",
    notBeforeMs: new Date(cert.validFrom).getTime(),
    notAfterMs: new Date(cert.validTo).getTime(),
    isCa: cert.ca,
    hosts: (cert.subjectAltName ?? "")
      .split(/,\s*/)
      .map((name) => /^(?:DNS|IP Address):(.+)$/.exec(name.trim())?.[1])
      .filter((h): h is string => h !== undefined)
      .sort(),
  };
}

/** Reads a certificate and its key; throws InvalidMaterialError when either does not parse or they do not match. */
export function readKeyed(cert: string | undefined, key: string | undefined, what: string): KeyedCertificate {
  if (!cert || !key) throw new InvalidMaterialError(`${what} lacks its ${cert ? "key" : "certificate"}`);
  const x509 = parse(cert, what);
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch (err) {
    throw new InvalidMaterialError(`${what}: the key does not parse: ${(err as Error).message}`, { cause: err });
  }
  if (!x509.checkPrivateKey(privateKey)) throw new InvalidMaterialError(`${what}: the key is not the certificate's`);
  return { cert, key, summary: summarize(cert, what) };
}

/** The certificates of a PEM bundle, in order. */
export function readBundle(pem: string | undefined, what: string): Certificate[] {
  return splitPemBundle(pem ?? "").map((cert, i) => ({ cert: `${cert}\n`, summary: summarize(cert, `${what} (certificate ${i + 1})`) }));
}

/** The fingerprint of the CA among `cas` that issued `cert`, if any did. */
export function signerOf(cert: string, cas: readonly Certificate[]): string | undefined {
  const leaf = new X509Certificate(cert);
  for (const ca of cas) {
    const x509 = new X509Certificate(ca.cert);
    if (leaf.checkIssued(x509) && leaf.verify(x509.publicKey)) return ca.summary.fingerprint;
  }
  return undefined;
}

export function bundlePem(certs: readonly Certificate[]): string {
  return certs.map((c) => (c.cert.endsWith("\n") ? c.cert : `${c.cert}\n`)).join("");
}
