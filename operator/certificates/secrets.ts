/**
 * The Secrets and the ConfigMap that carry certificates, written from and read back into the planner's values:
 * - Secret `X-ca-key`: the authority (signing CA and key, the incoming CA during a rotation, the trust bundle);
 * - Secret `X-peer-tls`: `ca.crt` and every pod's `POD.tls.crt` and `POD.tls.key`, mounted by every pod, each node
 *   using its own pair (`--tls-name`): a StatefulSet's pod template cannot name a Secret per pod;
 * - Secret `X-client-tls`: the client port's certificate, shared by every node (`kubernetes.io/tls`);
 * - ConfigMap `X-ca`: the CA bundle for clients of the client port, public.
 */
import type { V1ConfigMap, V1Secret } from "@kubernetes/client-node";
import { GROUP, type DynamoCluster } from "../api/index.js";
import { objectNames, ownedMeta } from "../resources/index.js";
import { trustBundle, type Authority, type AuthorityRead } from "./authority.js";
import { InvalidMaterialError, bundlePem, readBundle, readKeyed, signerOf, type Certificate, type KeyedCertificate } from "./material.js";
import type { LeafState } from "./leaves.js";

export const CA_KEYS = { bundle: "ca.crt", cert: "tls.crt", key: "tls.key", nextCert: "next.crt", nextKey: "next.key" } as const;
export const NEXT_CA_SINCE_ANNOTATION = `${GROUP}/next-ca-since`;
export const ROTATION_REQUEST_ANNOTATION = `${GROUP}/rotation-request`;
export const CA_BUNDLE_KEY = "ca.crt";

export const peerCertKey = (pod: string) => `${pod}.tls.crt`;
export const peerKeyKey = (pod: string) => `${pod}.tls.key`;

/** A Secret's data as text (the API server returns it base64 encoded). */
export function secretStrings(secret: V1Secret | undefined): Record<string, string> | undefined {
  if (!secret) return undefined;
  return Object.fromEntries(Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]));
}

function encoded(data: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(data)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => [k, Buffer.from(v, "utf8").toString("base64")]),
  );
}

export function readAuthority(secret: V1Secret | undefined): AuthorityRead {
  const data = secretStrings(secret);
  if (!data) return { kind: "missing" };
  const name = secret?.metadata?.name ?? "the CA Secret";
  try {
    const signing = readKeyed(data[CA_KEYS.cert], data[CA_KEYS.key], `${name} ${CA_KEYS.cert}`);
    if (!signing.summary.isCa) throw new InvalidMaterialError(`${name} ${CA_KEYS.cert} is not a CA certificate`);
    const next = data[CA_KEYS.nextCert] ? readKeyed(data[CA_KEYS.nextCert], data[CA_KEYS.nextKey], `${name} ${CA_KEYS.nextCert}`) : undefined;
    const bundle = readBundle(data[CA_KEYS.bundle], `${name} ${CA_KEYS.bundle}`);
    const own = new Set([signing.summary.fingerprint, next?.summary.fingerprint]);
    const since = secret?.metadata?.annotations?.[NEXT_CA_SINCE_ANNOTATION];
    return {
      kind: "ok",
      authority: {
        signing,
        next,
        nextSinceMs: next && since && !Number.isNaN(Date.parse(since)) ? Date.parse(since) : undefined,
        retired: bundle.filter((c) => !own.has(c.summary.fingerprint)),
        handledRequest: secret?.metadata?.annotations?.[ROTATION_REQUEST_ANNOTATION],
      },
    };
  } catch (err) {
    if (err instanceof InvalidMaterialError) return { kind: "invalid", problem: err.message };
    throw err;
  }
}

export function buildCaSecret(cluster: DynamoCluster, authority: Authority): V1Secret {
  const meta = ownedMeta(cluster, objectNames(cluster.metadata.name).caSecret);
  const annotations: Record<string, string> = {};
  if (authority.next && authority.nextSinceMs !== undefined) annotations[NEXT_CA_SINCE_ANNOTATION] = new Date(authority.nextSinceMs).toISOString();
  if (authority.handledRequest !== undefined) annotations[ROTATION_REQUEST_ANNOTATION] = authority.handledRequest;
  const data: Record<string, string> = {
    [CA_KEYS.bundle]: bundlePem(trustBundle(authority)),
    [CA_KEYS.cert]: authority.signing.cert,
    [CA_KEYS.key]: authority.signing.key,
  };
  if (authority.next) {
    data[CA_KEYS.nextCert] = authority.next.cert;
    data[CA_KEYS.nextKey] = authority.next.key;
  }
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: Object.keys(annotations).length > 0 ? { ...meta, annotations } : meta,
    type: "Opaque",
    data: encoded(data),
  };
}

/** The leaves stored in the peer Secret, by pod, and the bundle it carries. Unusable pairs are reported, not thrown. */
export function readPeerSecret(secret: V1Secret | undefined): { bundle: Certificate[]; leaves: Map<string, KeyedCertificate | InvalidMaterialError> } {
  const data = secretStrings(secret) ?? {};
  const leaves = new Map<string, KeyedCertificate | InvalidMaterialError>();
  for (const key of Object.keys(data)) {
    const match = /^(.+)\.tls\.crt$/.exec(key);
    if (!match) continue;
    const pod = match[1]!;
    try {
      leaves.set(pod, readKeyed(data[key], data[peerKeyKey(pod)], `the peer certificate of ${pod}`));
    } catch (err) {
      if (!(err instanceof InvalidMaterialError)) throw err;
      leaves.set(pod, err);
    }
  }
  let bundle: Certificate[] = [];
  try {
    bundle = readBundle(data[CA_BUNDLE_KEY], "the peer Secret's ca.crt");
  } catch (err) {
    if (!(err instanceof InvalidMaterialError)) throw err;
  }
  return { bundle, leaves };
}

export function readClientSecret(secret: V1Secret | undefined): KeyedCertificate | InvalidMaterialError | undefined {
  const data = secretStrings(secret);
  if (!data) return undefined;
  try {
    return readKeyed(data["tls.crt"], data["tls.key"], "the client port's certificate");
  } catch (err) {
    if (!(err instanceof InvalidMaterialError)) throw err;
    return err;
  }
}

/** The planner's view of a stored leaf, with the CA of `bundle` that issued it. */
export function leafState(stored: KeyedCertificate | InvalidMaterialError | undefined, bundle: readonly Certificate[]): LeafState {
  if (stored === undefined) return { kind: "missing" };
  if (stored instanceof InvalidMaterialError) return { kind: "invalid", problem: stored.message };
  return { kind: "present", summary: stored.summary, issuer: signerOf(stored.cert, bundle) };
}

export function buildPeerTlsSecret(cluster: DynamoCluster, bundle: readonly Certificate[], leaves: ReadonlyMap<string, KeyedCertificate>): V1Secret {
  const data: Record<string, string> = { [CA_BUNDLE_KEY]: bundlePem(bundle) };
  for (const [pod, leaf] of leaves) {
    data[peerCertKey(pod)] = leaf.cert;
    data[peerKeyKey(pod)] = leaf.key;
  }
  return { apiVersion: "v1", kind: "Secret", metadata: ownedMeta(cluster, objectNames(cluster.metadata.name).peerTlsSecret), type: "Opaque", data: encoded(data) };
}

export function buildClientTlsSecret(cluster: DynamoCluster, bundle: readonly Certificate[], leaf: KeyedCertificate): V1Secret {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: ownedMeta(cluster, objectNames(cluster.metadata.name).clientTlsSecret),
    type: "kubernetes.io/tls",
    data: encoded({ [CA_BUNDLE_KEY]: bundlePem(bundle), "tls.crt": leaf.cert, "tls.key": leaf.key }),
  };
}

/** ConfigMap `X-ca`: the CAs a client of the client port should trust, public by design. */
export function buildCaConfigMap(cluster: DynamoCluster, bundle: string): V1ConfigMap {
  return { apiVersion: "v1", kind: "ConfigMap", metadata: ownedMeta(cluster, objectNames(cluster.metadata.name).caConfigMap), data: { [CA_BUNDLE_KEY]: bundle } };
}
