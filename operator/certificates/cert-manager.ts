/**
 * cert-manager Certificates, for clusters that name an issuer (`spec.tls.issuerRef`): cert-manager then issues and
 * renews the certificates, and the operator only asks for them and mounts the Secrets it fills (`ca.crt`, `tls.crt`,
 * `tls.key`). One peer Certificate is shared by every node (a StatefulSet cannot mount a Secret per pod, and
 * cert-manager writes one Secret per Certificate): it names every pod under `X-peers` by a wildcard. Peers trust the
 * issuing CA from `ca.crt`, so the issuer must be a private CA of this cluster alone (a CA or Vault issuer, never a
 * public one): anything it signs is a member.
 */
import type { KubernetesObject } from "@kubernetes/client-node";
import type { DynamoCluster } from "../api/index.js";
import { clusterLabels, objectNames, ownedMeta } from "../resources/index.js";
import { DEFAULT_CLUSTER_DOMAIN, clientHosts } from "./hosts.js";
import { DEFAULT_CERTIFICATES } from "./settings.js";

export const CERT_MANAGER_API_VERSION = "cert-manager.io/v1";
export const CERTIFICATE_KIND = "Certificate";

export interface CertificateObject extends KubernetesObject {
  spec: {
    secretName: string;
    secretTemplate: { labels: Record<string, string> };
    commonName?: string;
    dnsNames?: string[];
    ipAddresses?: string[];
    duration: string;
    renewBefore: string;
    privateKey: { algorithm: "ECDSA"; size: 256; encoding: "PKCS8"; rotationPolicy: "Always" };
    usages: string[];
    issuerRef: { name: string; kind: string; group: string };
  };
}

function certificate(
  cluster: DynamoCluster,
  name: string,
  secretName: string,
  names: { commonName?: string; dnsNames?: string[]; ipAddresses?: string[] },
  usages = ["digital signature", "server auth", "client auth"],
): CertificateObject {
  const tls = cluster.spec.tls;
  const issuer = tls.issuerRef;
  if (!issuer) throw new Error(`DynamoCluster ${cluster.metadata.name} names no issuer; its certificates are the operator's own`);
  const seconds = tls.certificateLifetimeSeconds;
  return {
    apiVersion: CERT_MANAGER_API_VERSION,
    kind: CERTIFICATE_KIND,
    metadata: ownedMeta(cluster, name),
    spec: {
      secretName,
      // The Secret carries the cluster's labels, so the operator's admission guard lets it read and mount it like its own.
      secretTemplate: { labels: clusterLabels(cluster.metadata.name) },
      ...names,
      duration: `${seconds}s`,
      renewBefore: `${Math.floor(seconds * DEFAULT_CERTIFICATES.renewFraction)}s`,
      privateKey: { algorithm: "ECDSA", size: 256, encoding: "PKCS8", rotationPolicy: "Always" },
      usages,
      issuerRef: { name: issuer.name, kind: issuer.kind, group: issuer.group },
    },
  };
}

/** The Certificates of a cluster that names an issuer: the nodes' peer certificate, the client port's, the operator's. */
export function buildCertificates(cluster: DynamoCluster, clusterIp: string | undefined, clusterDomain = DEFAULT_CLUSTER_DOMAIN): CertificateObject[] {
  const names = objectNames(cluster.metadata.name);
  const ns = cluster.metadata.namespace ?? "default";
  const peers = [`*.${names.peerService}.${ns}.svc`, `*.${names.peerService}.${ns}.svc.${clusterDomain}`];
  const objects = [certificate(cluster, names.peerCertificate, names.peerTlsSecret, { dnsNames: peers })];
  if (cluster.spec.tls.client.enabled) {
    const hosts = clientHosts(cluster, clusterIp, clusterDomain);
    const ips = hosts.filter((h) => /^[0-9.]+$|:/.test(h));
    // Serving only: the issuer also signs the peers' certificates, and this one must not log in to a peer port.
    const serving = { dnsNames: hosts.filter((h) => !ips.includes(h)), ...(ips.length > 0 ? { ipAddresses: ips } : {}) };
    objects.push(certificate(cluster, names.clientCertificate, names.clientTlsSecret, serving, ["digital signature", "server auth"]));
  }
  objects.push(certificate(cluster, names.operatorCertificate, names.operatorTlsSecret, { commonName: "dynamo-operator" }));
  return objects;
}

/** What a Certificate's status says, in one line for the cluster's status. */
export function certificateReadiness(object: { status?: { conditions?: { type: string; status: string; message?: string }[] } } | undefined): { ready: boolean; message: string } {
  const ready = object?.status?.conditions?.find((c) => c.type === "Ready");
  if (!ready) return { ready: false, message: "cert-manager has not reported on it yet" };
  return { ready: ready.status === "True", message: ready.message ?? (ready.status === "True" ? "issued" : "not issued") };
}
