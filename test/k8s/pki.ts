// The certificates and keys one control plane needs, generated fresh for every run with the
// machine's openssl: a throwaway certificate authority, the API server's serving certificate for
// the loopback address and the in-cluster service names, an admin client certificate in the
// system:masters group (which RBAC lets do anything), and the key pair that signs service-account
// tokens. Nothing is reused between runs, so nothing secret needs to live anywhere.
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface Pki {
  dir: string;
  caCert: string;
  caKey: string;
  servingCert: string;
  servingKey: string;
  adminCert: string;
  adminKey: string;
  serviceAccountKey: string;
  serviceAccountPub: string;
}

const CERT_DAYS = "30";

function openssl(dir: string, args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
}

function rsaKey(dir: string, file: string): string {
  openssl(dir, ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", file]);
  return join(dir, file);
}

function signedCert(dir: string, name: string, subject: string, extensions: string): { cert: string; key: string } {
  const key = rsaKey(dir, `${name}.key`);
  openssl(dir, ["req", "-new", "-key", key, "-subj", subject, "-out", `${name}.csr`]);
  writeFileSync(join(dir, `${name}.ext`), extensions);
  openssl(dir, [
    "x509", "-req", "-in", `${name}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
    "-days", CERT_DAYS, "-sha256", "-extfile", `${name}.ext`, "-out", `${name}.crt`,
  ]);
  return { cert: join(dir, `${name}.crt`), key };
}

/** Writes a complete PKI into `dir` and answers the file paths. */
export function createPki(dir: string): Pki {
  const caKey = rsaKey(dir, "ca.key");
  openssl(dir, [
    "req", "-x509", "-new", "-key", caKey, "-subj", "/CN=dynamo-k8s-test-ca", "-days", CERT_DAYS, "-sha256",
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    "-out", "ca.crt",
  ]);
  const serving = signedCert(
    dir,
    "apiserver",
    "/CN=kube-apiserver",
    [
      "basicConstraints=CA:FALSE",
      "keyUsage=critical,digitalSignature,keyEncipherment",
      "extendedKeyUsage=serverAuth",
      "subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default," +
        "DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local",
      "",
    ].join("\n"),
  );
  const admin = signedCert(
    dir,
    "admin",
    "/O=system:masters/CN=admin",
    ["basicConstraints=CA:FALSE", "keyUsage=critical,digitalSignature,keyEncipherment", "extendedKeyUsage=clientAuth", ""].join("\n"),
  );
  const serviceAccountKey = rsaKey(dir, "sa.key");
  openssl(dir, ["pkey", "-in", serviceAccountKey, "-pubout", "-out", "sa.pub"]);
  return {
    dir,
    caCert: join(dir, "ca.crt"),
    caKey,
    servingCert: serving.cert,
    servingKey: serving.key,
    adminCert: admin.cert,
    adminKey: admin.key,
    serviceAccountKey,
    serviceAccountPub: join(dir, "sa.pub"),
  };
}

export function readPem(path: string): string {
  return readFileSync(path, "utf8");
}
