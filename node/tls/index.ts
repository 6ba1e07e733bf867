/**
 * TLS for the peer port: TLS directories (`ca.crt`, `tls.crt`, `tls.key`) loaded, checked and watched for rotation,
 * and the options both ends of mutual TLS use. Issuing certificates is node/pki. Used by the node, `dynamo dev`, the
 * RingDriver's admin client and the operator.
 */
export { certificateSummary, splitPemBundle } from "./pem.js";
export {
  certificateFingerprint,
  clientTlsOptions,
  fingerprintsOf,
  readTlsMaterial,
  TLS_FILES,
  TlsDir,
  tlsFileNames,
  writeTlsDir,
} from "./tls-dir.js";
export type { ClientTlsOptions, TlsFileNames, TlsFingerprints, TlsMaterial } from "./tls-dir.js";
