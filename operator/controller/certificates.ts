/**
 * The impure half of a cluster's certificates: reads the Secrets (and cert-manager's Certificates), keeps the
 * operator's own client certificate, signs what the pure planner (../certificates) asks for, and hands back the
 * objects to apply and what to report. One instance per cluster, kept between passes; losing it (a restart) only
 * means the operator's client certificate is issued again.
 *
 * A pass reads the stored objects (`readStoredCertificates`, the only I/O here), calls `prepare` before talking to the
 * nodes (so the admin calls carry a current certificate) and `step` after, with what the nodes said they use.
 */
import type { KubernetesObject, V1Secret, V1Service } from "@kubernetes/client-node";
import { createCa, issueCertificate } from "../../node/pki/index.js";
import { clientTlsOptions, type ClientTlsOptions } from "../../node/tls/index.js";
import type { DynamoCluster, TlsStatus } from "../api/index.js";
import {
  CA_BUNDLE_KEY,
  applyAuthorityStep,
  authorityEvent,
  backdateMs,
  buildCaConfigMap,
  buildCaSecret,
  CERT_MANAGER_API_VERSION,
  buildCertificates,
  buildClientTlsSecret,
  buildPeerTlsSecret,
  bundlePem,
  certificateReadiness,
  certificateSettings,
  clientHosts,
  isoSeconds,
  issuedEvent,
  lastRotation,
  leafState,
  needsNewCa,
  notServing,
  notTrusting,
  peerHosts,
  planAuthority,
  planLeaves,
  readAuthority,
  readBundle,
  readClientSecret,
  readKeyed,
  readPeerSecret,
  recheckAfterMs,
  rotationText,
  secretStrings,
  summarize,
  trustBundle,
  InvalidMaterialError,
  type Authority,
  type AuthorityStep,
  type CertificateEvent,
  type CertificateReport,
  type KeyedCertificate,
  type LeafInput,
  type LeafIssue,
  type NodeTlsReport,
} from "../certificates/index.js";
import { objectPath, type ObjectApi } from "../kube/api-client.js";
import { objectNames } from "../resources/index.js";

export interface CertificateDeps {
  clusterDomain: string;
  now: () => number;
}

/** What the nodes and pods of the cluster look like in this pass, as far as certificates care. */
export interface CertificateInputs {
  /** Pods that need a peer certificate: every ordinal the StatefulSet may run, and every pod that exists. */
  pods: string[];
  /** Running nodes and the certificates they report using. */
  nodes: NodeTlsReport[];
}

/** The objects certificates are read from, as the API server holds them now. */
export interface StoredCertificates {
  caSecret?: V1Secret;
  peerSecret?: V1Secret;
  clientSecret?: V1Secret;
  operatorSecret?: V1Secret;
  clientService?: V1Service;
  /** cert-manager's Certificates by name (cert-manager mode only), for what their status says. */
  certificates?: Record<string, CertificateStatusObject | undefined>;
}

type CertificateStatusObject = { status?: { conditions?: { type: string; status: string; message?: string }[] } };

/** Reads what `ClusterCertificates` works from: a handful of GETs by name, no list or watch on Secrets. */
export async function readStoredCertificates(api: ObjectApi, cluster: DynamoCluster): Promise<StoredCertificates> {
  const ns = cluster.metadata.namespace as string;
  const names = objectNames(cluster.metadata.name);
  const secret = (name: string) => api.find<V1Secret>(objectPath("v1", "secrets", ns, name));
  const certManager = cluster.spec.tls.issuerRef !== undefined;
  const [caSecret, peerSecret, clientSecret, operatorSecret, clientService] = await Promise.all([
    certManager ? undefined : secret(names.caSecret),
    secret(names.peerTlsSecret),
    cluster.spec.tls.client.enabled ? secret(names.clientTlsSecret) : undefined,
    certManager ? secret(names.operatorTlsSecret) : undefined,
    api.find<V1Service>(objectPath("v1", "services", ns, names.clientService)),
  ]);
  const stored: StoredCertificates = { caSecret, peerSecret, clientSecret, operatorSecret, clientService };
  if (certManager) {
    const wanted = [names.peerCertificate, names.operatorCertificate, ...(cluster.spec.tls.client.enabled ? [names.clientCertificate] : [])];
    // Without cert-manager's CRD there is nothing to read; applying the Certificates reports that plainly.
    const found = await Promise.all(wanted.map((name) => api.find<CertificateStatusObject>(objectPath(CERT_MANAGER_API_VERSION, "certificates", ns, name)).catch(() => undefined)));
    stored.certificates = Object.fromEntries(wanted.map((name, i) => [name, found[i]]));
  }
  return stored;
}

const OPERATOR_COMMON_NAME = "dynamo-operator";

export class ClusterCertificates {
  private operatorLeaf: KeyedCertificate | undefined;
  private operatorTrust: string | undefined;
  private stored: StoredCertificates = {};

  constructor(private readonly deps: CertificateDeps) {}

  /** TLS for the operator's admin calls to this cluster's nodes: its client certificate and the CAs it trusts. */
  adminTls(): ClientTlsOptions {
    if (!this.operatorLeaf || !this.operatorTrust) throw new Error("the operator holds no client certificate for this cluster yet");
    return clientTlsOptions({ ca: this.operatorTrust, cert: this.operatorLeaf.cert, key: this.operatorLeaf.key });
  }

  /** Takes the cluster's stored certificates for this pass and makes sure the operator's own certificate is current. */
  async prepare(cluster: DynamoCluster, stored: StoredCertificates): Promise<void> {
    this.stored = stored;
    if (cluster.spec.tls.issuerRef) this.useIssuedOperatorCertificate();
    else await this.renewOperatorCertificate(cluster);
  }

  /** Decides and signs; answers the objects to apply, the CA Secret first, and the report for status and Events. */
  async step(cluster: DynamoCluster, inputs: CertificateInputs, previous: TlsStatus | undefined): Promise<{ objects: KubernetesObject[]; report: CertificateReport }> {
    return cluster.spec.tls.issuerRef ? this.stepCertManager(cluster, previous) : this.stepOperator(cluster, inputs, previous);
  }

  private async stepOperator(cluster: DynamoCluster, inputs: CertificateInputs, previous: TlsStatus | undefined): Promise<{ objects: KubernetesObject[]; report: CertificateReport }> {
    const nowMs = this.deps.now();
    const settings = certificateSettings(cluster);
    const clientEnabled = cluster.spec.tls.client.enabled;
    const read = readAuthority(this.stored.caSecret);
    const peer = readPeerSecret(this.stored.peerSecret);
    const client = clientEnabled ? readClientSecret(this.stored.clientSecret) : undefined;
    const before = read.kind === "ok" ? read.authority : undefined;

    const storedFingerprints = new Map<string, string>();
    for (const [pod, leaf] of peer.leaves) if (!(leaf instanceof InvalidMaterialError)) storedFingerprints.set(pod, leaf.summary.fingerprint);
    const clientFingerprint = client && !(client instanceof InvalidMaterialError) ? client.summary.fingerprint : undefined;
    const step = planAuthority({
      read,
      distributed: peer.bundle,
      nodes: inputs.nodes,
      leavesFromSigning: before ? this.allFromSigning(before, inputs.pods, peer.leaves, client) : false,
      nodesNotServing: notServing(inputs.nodes, storedFingerprints, clientEnabled ? clientFingerprint : undefined),
      settings,
      nowMs,
    });
    if (step.kind === "invalid") {
      return { objects: [], report: this.invalidReport(cluster, step.problem, previous) };
    }
    const fresh = needsNewCa(step) ? await this.newCa(cluster, settings.caLifetimeMs, nowMs) : undefined;
    const authority = applyAuthorityStep(before, step, fresh, nowMs, settings) as Authority;
    const bundle = trustBundle(authority);

    const leaves: LeafInput[] = inputs.pods.map((pod) => ({ target: { kind: "peer", pod }, state: leafState(peer.leaves.get(pod), bundle), hosts: peerHosts(cluster, pod, this.deps.clusterDomain) }));
    if (clientEnabled) {
      leaves.push({ target: { kind: "client" }, state: leafState(client, bundle), hosts: clientHosts(cluster, this.stored.clientService?.spec?.clusterIP, this.deps.clusterDomain) });
    }
    const issues = planLeaves({
      authority,
      leaves,
      nodesTrustSigning: notTrusting(inputs.nodes, authority.signing.summary.fingerprint).length === 0,
      settings,
      nowMs,
      commonNames: { client: objectNames(cluster.metadata.name).clientService, operator: OPERATOR_COMMON_NAME },
    });
    const issued = new Map<string, KeyedCertificate>();
    let clientLeaf = client instanceof InvalidMaterialError ? undefined : client;
    for (const issue of issues) {
      const leaf = await this.sign(authority, issue);
      if (issue.target.kind === "peer") issued.set(issue.target.pod, leaf);
      else if (issue.target.kind === "client") clientLeaf = leaf;
    }
    const peerLeaves = new Map<string, KeyedCertificate>();
    for (const pod of inputs.pods) {
      const leaf = issued.get(pod) ?? peer.leaves.get(pod);
      if (leaf && !(leaf instanceof InvalidMaterialError)) peerLeaves.set(pod, leaf);
    }
    // The operator keeps trusting every CA of the bundle at once, so its calls work throughout a rotation; its own
    // certificate follows the signing CA now rather than at the next pass (on the first pass there was none).
    await this.renewOperatorLeaf(cluster, authority);

    const objects: KubernetesObject[] = [buildCaSecret(cluster, authority), buildPeerTlsSecret(cluster, bundle, peerLeaves)];
    if (clientEnabled && clientLeaf) objects.push(buildClientTlsSecret(cluster, bundle, clientLeaf), buildCaConfigMap(cluster, bundlePem(bundle)));
    const report = this.operatorReport(cluster, authority, step, issues, [...peerLeaves.values(), ...(clientEnabled && clientLeaf ? [clientLeaf] : [])], previous, nowMs);
    return { objects, report };
  }

  /** Every stored leaf of a pod that needs one, the client port's and the operator's, is issued by the signing CA. */
  private allFromSigning(authority: Authority, pods: string[], leaves: Map<string, KeyedCertificate | InvalidMaterialError>, client: KeyedCertificate | InvalidMaterialError | undefined): boolean {
    const signing = authority.signing.summary.fingerprint;
    const bundle = trustBundle(authority);
    const fromSigning = (leaf: KeyedCertificate | InvalidMaterialError | undefined) => {
      const state = leafState(leaf, bundle);
      return state.kind === "present" && state.issuer === signing;
    };
    if (!pods.every((pod) => fromSigning(leaves.get(pod)))) return false;
    if (client !== undefined && !fromSigning(client)) return false;
    return this.operatorLeaf !== undefined && fromSigning(this.operatorLeaf);
  }

  private operatorReport(
    cluster: DynamoCluster,
    authority: Authority,
    step: AuthorityStep,
    issues: LeafIssue[],
    stored: KeyedCertificate[],
    previous: TlsStatus | undefined,
    nowMs: number,
  ): CertificateReport {
    const events: CertificateEvent[] = [];
    const authorityNews = authorityEvent(step, authority.signing.summary.notAfterMs);
    if (authorityNews) events.push(authorityNews);
    const leafNews = issuedEvent(issues);
    if (leafNews) events.push(leafNews);
    const phase = authority.next ? "adding" : authority.retired.length > 0 ? "retiring" : "steady";
    const firstExpiry = Math.min(...stored.map((l) => l.summary.notAfterMs));
    const expired = stored.filter((l) => l.summary.notAfterMs <= nowMs).length;
    const status: TlsStatus = {
      issuer: "Operator",
      caConfigMap: cluster.spec.tls.client.enabled ? objectNames(cluster.metadata.name).caConfigMap : undefined,
      caNotAfter: isoSeconds(authority.signing.summary.notAfterMs),
      certificatesNotAfter: Number.isFinite(firstExpiry) ? isoSeconds(firstExpiry) : undefined,
      rotation: rotationText(step, phase),
      ...lastRotation(previous, nowMs, events.map((e) => e.message)),
    };
    return {
      status: stripUndefined(status),
      ready: expired === 0,
      reason: expired === 0 ? "Ready" : "Expired",
      message:
        expired === 0
          ? `certificates issued by the cluster's CA, valid until ${status.certificatesNotAfter ?? status.caNotAfter}${status.rotation ? `; ${status.rotation}` : ""}`
          : `${expired} stored certificates have expired; they are issued again`,
      problems: [],
      events,
      recheckAfterMs: recheckAfterMs(
        [...stored, ...(this.operatorLeaf ? [this.operatorLeaf] : []), authority.signing].map((c) => c.summary),
        phase !== "steady" || step.kind !== "none",
        nowMs,
      ),
    };
  }

  private invalidReport(cluster: DynamoCluster, problem: string, previous: TlsStatus | undefined): CertificateReport {
    const names = objectNames(cluster.metadata.name);
    return {
      status: stripUndefined({ ...(previous ?? {}), issuer: "Operator" as const }),
      ready: false,
      reason: "Invalid",
      message: `${problem}; nothing is issued until it is fixed (deleting Secret ${names.caSecret} makes the operator create a new CA and move every node to it)`,
      problems: [problem],
      events: [{ type: "Warning", reason: "CertificatesInvalid", message: problem }],
    };
  }

  private stepCertManager(cluster: DynamoCluster, previous: TlsStatus | undefined): { objects: KubernetesObject[]; report: CertificateReport } {
    const names = objectNames(cluster.metadata.name);
    const objects: KubernetesObject[] = buildCertificates(cluster, this.stored.clientService?.spec?.clusterIP, this.deps.clusterDomain);
    const wanted: [string, V1Secret | undefined, string][] = [
      [names.peerTlsSecret, this.stored.peerSecret, names.peerCertificate],
      ...(cluster.spec.tls.client.enabled ? ([[names.clientTlsSecret, this.stored.clientSecret, names.clientCertificate]] as [string, V1Secret | undefined, string][]) : []),
      [names.operatorTlsSecret, this.stored.operatorSecret, names.operatorCertificate],
    ];
    const waiting: string[] = [];
    const problems: string[] = [];
    const leaves: KeyedCertificate[] = [];
    let caNotAfterMs: number | undefined;
    for (const [secretName, secret, certificateName] of wanted) {
      if (!secret) {
        waiting.push(`${secretName} (Certificate ${certificateName}: ${certificateReadiness(this.stored.certificates?.[certificateName]).message})`);
        continue;
      }
      const data = secretStrings(secret) ?? {};
      try {
        const leaf = readKeyed(data["tls.crt"], data["tls.key"], `Secret ${secretName}`);
        const cas = readBundle(data[CA_BUNDLE_KEY], `Secret ${secretName} ca.crt`);
        if (cas.length === 0) throw new InvalidMaterialError(`Secret ${secretName} has no ca.crt: peers need the issuing CA, so the issuer must be a CA or Vault issuer that fills it`);
        leaves.push(leaf);
        caNotAfterMs = Math.min(caNotAfterMs ?? Infinity, ...cas.map((c) => c.summary.notAfterMs));
      } catch (err) {
        if (!(err instanceof InvalidMaterialError)) throw err;
        problems.push(err.message);
      }
    }
    const client = this.stored.clientSecret && secretStrings(this.stored.clientSecret)?.[CA_BUNDLE_KEY];
    if (cluster.spec.tls.client.enabled && client) objects.push(buildCaConfigMap(cluster, client));
    const firstExpiry = Math.min(...leaves.map((l) => l.summary.notAfterMs));
    const status: TlsStatus = stripUndefined({
      issuer: "CertManager" as const,
      caConfigMap: cluster.spec.tls.client.enabled ? names.caConfigMap : undefined,
      caNotAfter: caNotAfterMs !== undefined && Number.isFinite(caNotAfterMs) ? isoSeconds(caNotAfterMs) : undefined,
      certificatesNotAfter: Number.isFinite(firstExpiry) ? isoSeconds(firstExpiry) : undefined,
      lastRotation: previous?.lastRotation,
      lastRotationTime: previous?.lastRotationTime,
    });
    const issuer = cluster.spec.tls.issuerRef!;
    const ready = problems.length === 0 && waiting.length === 0;
    return {
      objects,
      report: {
        status,
        ready,
        reason: problems.length > 0 ? "Invalid" : waiting.length > 0 ? "WaitingForIssuer" : "Ready",
        message:
          problems.length > 0
            ? problems.join("; ")
            : waiting.length > 0
              ? `waiting for cert-manager (${issuer.kind} ${issuer.name}) to fill ${waiting.join(", ")}; pods start once it has`
              : `certificates issued by cert-manager (${issuer.kind} ${issuer.name}), valid until ${status.certificatesNotAfter}`,
        problems,
        events: problems.map((message) => ({ type: "Warning" as const, reason: "CertificatesInvalid", message })),
      },
    };
  }

  /** cert-manager mode: the operator presents the certificate cert-manager issued it, and trusts the same issuer. */
  private useIssuedOperatorCertificate(): void {
    const data = secretStrings(this.stored.operatorSecret);
    if (!data) return;
    try {
      this.operatorLeaf = readKeyed(data["tls.crt"], data["tls.key"], "the operator's certificate");
      this.operatorTrust = data[CA_BUNDLE_KEY];
    } catch (err) {
      if (!(err instanceof InvalidMaterialError)) throw err;
    }
  }

  /**
   * Operator-issued certificates: the operator's own client certificate comes from the signing CA, issued again when
   * it is missing, due for renewal, or from an older CA. It lives in memory only.
   */
  private async renewOperatorCertificate(cluster: DynamoCluster): Promise<void> {
    const read = readAuthority(this.stored.caSecret);
    if (read.kind === "ok") await this.renewOperatorLeaf(cluster, read.authority);
  }

  private async renewOperatorLeaf(cluster: DynamoCluster, authority: Authority): Promise<void> {
    const bundle = trustBundle(authority);
    this.operatorTrust = bundlePem(bundle);
    const [issue] = planLeaves({
      authority,
      leaves: [{ target: { kind: "operator" }, state: leafState(this.operatorLeaf, bundle), hosts: [] }],
      nodesTrustSigning: true,
      settings: certificateSettings(cluster),
      nowMs: this.deps.now(),
      commonNames: { client: "", operator: OPERATOR_COMMON_NAME },
    });
    if (issue) this.operatorLeaf = await this.sign(authority, issue);
  }

  private async sign(authority: Authority, issue: LeafIssue): Promise<KeyedCertificate> {
    const leaf = await issueCertificate(
      { cert: authority.signing.cert, key: authority.signing.key },
      {
        commonName: issue.commonName,
        hosts: issue.hosts,
        notBefore: new Date(issue.notBeforeMs),
        notAfter: new Date(issue.notAfterMs),
        // The client port's certificate comes from the peer CA (one CA to rotate), so it must not be a peer login too:
        // whoever gets hold of it (say, copied to an ingress) can serve clients with it but not call a peer port.
        serverOnly: issue.target.kind === "client",
      },
    );
    return { ...leaf, summary: summarize(leaf.cert) };
  }

  private async newCa(cluster: DynamoCluster, lifetimeMs: number, nowMs: number): Promise<KeyedCertificate> {
    // A name of its own for every CA, so a bundle holding the old and the new one never has two with one subject.
    const commonName = `dynamo CA ${cluster.metadata.namespace}/${cluster.metadata.name} ${isoSeconds(nowMs)}`;
    const ca = await createCa({ commonName, notBefore: new Date(nowMs - backdateMs(lifetimeMs)), notAfter: new Date(nowMs + lifetimeMs) });
    return { ...ca, summary: summarize(ca.cert) };
  }
}

function stripUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

