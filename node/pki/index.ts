/**
 * Issuing certificates: a cluster CA and the leaf certificates it signs, for `dynamo dev`, the operator and tests.
 * Loading, checking and watching them is node/tls.
 */
export { createCa, issueCertificate } from "./pki.js";
export type { CaOptions, CertificateAndKey, LeafOptions } from "./pki.js";
