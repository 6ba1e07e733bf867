/**
 * The cluster's certificates as pure decisions: the CA and its rotation (`authority`), the leaves to issue
 * (`leaves`), the Secrets and ConfigMap that carry them (`secrets`), cert-manager Certificates for clusters that name
 * an issuer (`cert-manager`), and what status and Events say (`report`). The controller reads the Secrets and the
 * nodes' reports, calls these, signs what they ask for, and applies the result.
 */
export { DEFAULT_CERTIFICATES, ROTATE_CA_ANNOTATION, backdateMs, certificateSettings, overlapMs, renewAtMs } from "./settings.js";
export type { CertificateSettings } from "./settings.js";
export { InvalidMaterialError, bundlePem, readBundle, readKeyed, signerOf, summarize } from "./material.js";
export type { Certificate, CertificateSummary, KeyedCertificate } from "./material.js";
export { listPods, notServing, notTrusting } from "./node-reports.js";
export type { NodeTlsReport } from "./node-reports.js";
export { applyAuthorityStep, needsNewCa, planAuthority, trustBundle } from "./authority.js";
export type { Authority, AuthorityInput, AuthorityRead, AuthorityStep } from "./authority.js";
export { planLeaves, targetName } from "./leaves.js";
export type { LeafInput, LeafIssue, LeafState, LeafTarget, LeavesInput } from "./leaves.js";
export { DEFAULT_CLUSTER_DOMAIN, clientHosts, clientServerName, peerHosts } from "./hosts.js";
export {
  CA_BUNDLE_KEY,
  CA_KEYS,
  NEXT_CA_SINCE_ANNOTATION,
  ROTATION_REQUEST_ANNOTATION,
  buildCaConfigMap,
  buildCaSecret,
  buildClientTlsSecret,
  buildPeerTlsSecret,
  leafState,
  peerCertKey,
  peerKeyKey,
  readAuthority,
  readClientSecret,
  readPeerSecret,
  secretStrings,
} from "./secrets.js";
export { CERTIFICATE_KIND, CERT_MANAGER_API_VERSION, buildCertificates, certificateReadiness } from "./cert-manager.js";
export type { CertificateObject } from "./cert-manager.js";
export { ROTATION_RECHECK_MS, authorityEvent, isoSeconds, issuedEvent, lastRotation, recheckAfterMs, rotationText } from "./report.js";
export type { CertificateEvent, CertificateReport } from "./report.js";
