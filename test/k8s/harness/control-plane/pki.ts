/**
 * The certificates and keys one local Kubernetes needs, generated fresh for every run with the machine's openssl
 * (P-256 keys: a fraction of the time RSA takes on a busy machine). Nothing is reused between runs, so nothing secret
 * needs to live anywhere.
 *
 * - a cluster CA, which signs: the API server's serving certificate (its node address, the `kubernetes` Service's
 *   cluster IP, loopback and the in-cluster names), the admin client (system:masters, which RBAC lets do anything),
 *   the API server's client certificate towards the kubelets, each node's kubelet client (system:node:<name> in
 *   system:nodes, which the Node authorizer and NodeRestriction admit) and serving certificates, kube-proxy's client
 *   (system:kube-proxy, bound to system:node-proxier by the default policy) and metrics-server's serving certificate;
 * - a separate front-proxy CA for the aggregation layer: the API server proves itself to aggregated API servers
 *   (metrics-server) with its certificate, and they trust only that CA's `front-proxy-client`;
 * - the key pair that signs service-account tokens.
 */
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const CERT_DAYS = "30";

export interface KeyPair {
  cert: string;
  key: string;
}

export interface Pki {
  dir: string;
  ca: KeyPair;
  frontProxyCa: KeyPair;
  apiServer: KeyPair;
  admin: KeyPair;
  apiServerKubeletClient: KeyPair;
  frontProxyClient: KeyPair;
  kubeProxy: KeyPair;
  serviceAccountKey: string;
  serviceAccountPub: string;
}

export interface PkiNames {
  /** Addresses the API server is reached at: the node's, the `kubernetes` Service's, loopback. */
  apiServerIps: string[];
}

function openssl(dir: string, args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
}

function ecKey(dir: string, file: string): string {
  openssl(dir, ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", file]);
  return join(dir, file);
}

function ca(dir: string, name: string, commonName: string): KeyPair {
  const key = ecKey(dir, `${name}.key`);
  openssl(dir, [
    "req", "-x509", "-new", "-key", key, "-subj", `/CN=${commonName}`, "-days", CERT_DAYS, "-sha256",
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    "-out", `${name}.crt`,
  ]);
  return { cert: join(dir, `${name}.crt`), key };
}

/** A leaf certificate signed by `issuer`; `sans` are `IP:...`/`DNS:...` entries for a serving certificate. */
export function issue(dir: string, issuer: KeyPair, name: string, subject: string, usage: "client" | "server", sans: string[] = []): KeyPair {
  const key = ecKey(dir, `${name}.key`);
  openssl(dir, ["req", "-new", "-key", key, "-subj", subject, "-out", `${name}.csr`]);
  const extensions = [
    "basicConstraints=CA:FALSE",
    "keyUsage=critical,digitalSignature,keyEncipherment",
    `extendedKeyUsage=${usage === "client" ? "clientAuth" : "serverAuth"}`,
    ...(sans.length > 0 ? [`subjectAltName=${sans.join(",")}`] : []),
    "",
  ];
  writeFileSync(join(dir, `${name}.ext`), extensions.join("\n"));
  openssl(dir, [
    "x509", "-req", "-in", `${name}.csr`, "-CA", issuer.cert, "-CAkey", issuer.key, "-CAcreateserial",
    "-days", CERT_DAYS, "-sha256", "-extfile", `${name}.ext`, "-out", `${name}.crt`,
  ]);
  return { cert: join(dir, `${name}.crt`), key };
}

/** Where the PKI of `dir` keeps each file: known before it is written, so other processes of a run can find it. */
export function pkiPaths(dir: string): Pki {
  const pair = (name: string): KeyPair => ({ cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) });
  return {
    dir,
    ca: pair("ca"),
    frontProxyCa: pair("front-proxy-ca"),
    apiServer: pair("apiserver"),
    admin: pair("admin"),
    apiServerKubeletClient: pair("apiserver-kubelet-client"),
    frontProxyClient: pair("front-proxy-client"),
    kubeProxy: pair("kube-proxy"),
    serviceAccountKey: join(dir, "sa.key"),
    serviceAccountPub: join(dir, "sa.pub"),
  };
}

/** Writes the control plane's PKI into `dir` (at pkiPaths(dir)) and answers the file paths. */
export function createPki(dir: string, names: PkiNames): Pki {
  const clusterCa = ca(dir, "ca", "dynamo-k8s-test-ca");
  const frontProxyCa = ca(dir, "front-proxy-ca", "dynamo-k8s-test-front-proxy-ca");
  const serviceNames = ["kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local", "localhost"];
  ecKey(dir, "sa.key");
  openssl(dir, ["pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub"]);
  issue(dir, clusterCa, "apiserver", "/CN=kube-apiserver", "server", [...names.apiServerIps.map((ip) => `IP:${ip}`), ...serviceNames.map((n) => `DNS:${n}`)]);
  issue(dir, clusterCa, "admin", "/O=system:masters/CN=admin", "client");
  issue(dir, clusterCa, "apiserver-kubelet-client", "/O=system:masters/CN=kube-apiserver-kubelet-client", "client");
  issue(dir, frontProxyCa, "front-proxy-client", "/CN=front-proxy-client", "client");
  issue(dir, clusterCa, "kube-proxy", "/CN=system:kube-proxy", "client");
  return pkiPaths(dir);
}

export function readPem(path: string): string {
  return readFileSync(path, "utf8");
}
