/**
 * What each running node says it uses (its admin API's `tls` field), and the questions a rotation asks of those
 * reports: has every node loaded a bundle that trusts this CA, does every node present the certificate its Secret now
 * holds. A node that did not answer has confirmed nothing. Pods that are not running are left out: they read the
 * Secrets as they are when they start.
 */
import type { TlsInUse } from "../../node/protocol/index.js";

export interface NodeTlsReport {
  pod: string;
  /** False when the node's admin API did not answer in this pass. */
  reachable: boolean;
  peer?: TlsInUse;
  client?: TlsInUse;
}

/** The pods whose nodes have not (or not yet) confirmed trusting the CA with this fingerprint. */
export function notTrusting(nodes: readonly NodeTlsReport[], caFingerprint: string): string[] {
  return nodes.filter((n) => !n.reachable || !n.peer?.caFingerprints.includes(caFingerprint)).map((n) => n.pod);
}

/**
 * The pods whose nodes do not present the certificates their Secrets hold now: the peer certificate stored for the
 * pod and, when the client port has TLS, the shared client certificate.
 */
export function notServing(nodes: readonly NodeTlsReport[], peerFingerprints: ReadonlyMap<string, string>, clientFingerprint: string | undefined): string[] {
  return nodes
    .filter((n) => {
      if (!n.reachable) return true;
      const peer = peerFingerprints.get(n.pod);
      if (peer !== undefined && n.peer?.certFingerprint !== peer) return true;
      return clientFingerprint !== undefined && n.client?.certFingerprint !== clientFingerprint;
    })
    .map((n) => n.pod);
}

/** "x-0, x-1 and 2 more", for messages. */
export function listPods(pods: readonly string[], shown = 3): string {
  if (pods.length <= shown) return pods.join(", ");
  return `${pods.slice(0, shown).join(", ")} and ${pods.length - shown} more`;
}
