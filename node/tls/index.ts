/**
 * TLS for the peer port: a small PKI (a cluster CA and the certificates it issues) and TLS directories (`ca.crt`,
 * `tls.crt`, `tls.key`) that are loaded, checked and watched for rotation. Used by the node, `dynamo dev`, the
 * RingDriver's admin client and the operator.
 */
export { certificateSummary, createCa, issueCertificate, splitPemBundle } from "./pki.js";
export type { CaOptions, CertificateAndKey, LeafOptions } from "./pki.js";
export { clientTlsOptions, readTlsMaterial, TLS_FILES, TlsDir, writeTlsDir } from "./tls-dir.js";
export type { ClientTlsOptions, TlsMaterial } from "./tls-dir.js";
