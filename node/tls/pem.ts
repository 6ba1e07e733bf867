/** Reading PEM certificates with Node's own X.509 support (no certificate library needed). */
import { X509Certificate } from "node:crypto";

/** When a PEM certificate stops being valid, and the common name it was issued to. */
export function certificateSummary(pem: string): { commonName: string; notAfter: Date; notBefore: Date } {
  const cert = new X509Certificate(pem);
  return { commonName: /CN=([^\n,]*)/.exec(cert.subject)?.[1] ?? "", notAfter: new Date(cert.validTo), notBefore: new Date(cert.validFrom) };
}

/** The PEM blocks of a bundle (a CA file may hold the old and the new CA while one replaces the other). */
export function splitPemBundle(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}
