/**
 * The local cluster's certificates. `dynamo dev` creates a CA once in <data-dir>/tls (its key never leaves that
 * owner-only directory), a certificate for each node in <data-dir>/tls/<node-id>/ and one for clients of the peer port
 * (the supervisor itself, the CLI, tests, the benchmark) in <data-dir>/tls/client/, each directory laid out as the
 * node's --tls-dir expects. Certificates are issued again when missing, not from the current CA, or within 30 days of
 * expiry, so a cluster left for a year still starts. Because only this CA's certificates are accepted on the peer
 * ports, a process squatting on a node's port cannot pass for the node: the supervisor's admin calls refuse its
 * handshake before the token is sent.
 *
 * `dynamo dev --client-tls` adds a second, separate CA in <data-dir>/client-tls for the client ports, and one
 * certificate for 127.0.0.1 and localhost that every node serves. It is kept apart from the peer CA on purpose: the
 * peer ports take any certificate of their CA as a member of the cluster, so a certificate meant for serving clients
 * (which may end up on a load balancer) must never come from it.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { certificateSummary, clientTlsOptions, readTlsMaterial, writeTlsDir, type ClientTlsOptions } from "../node/tls/index.js";
import { createCa, issueCertificate, type CertificateAndKey } from "../node/pki/index.js";

const RENEW_BEFORE_MS = 30 * 24 * 60 * 60 * 1000;
export const CLIENT_TLS_NAME = "client";

export function devTlsRoot(dataDir: string): string {
  return join(dataDir, "tls");
}

/** Where `dynamo dev --client-tls` keeps the client ports' CA (`ca.crt` is what clients trust) and certificate. */
export function devClientPortTlsRoot(dataDir: string): string {
  return join(dataDir, "client-tls");
}

/** The TLS directory every node's client port serves from, under `devClientPortTlsRoot`. */
export const CLIENT_PORT_TLS_NAME = "node";

/** The client TLS options for a local cluster's peer ports, or undefined when it has no PKI (plaintext). */
export function devClientTls(dataDir: string): ClientTlsOptions | undefined {
  const dir = join(devTlsRoot(dataDir), CLIENT_TLS_NAME);
  if (!existsSync(dir)) return undefined;
  return clientTlsOptions(readTlsMaterial(dir));
}

export class DevPki {
  private constructor(
    private readonly root: string,
    private readonly ca: CertificateAndKey,
  ) {}

  /** Opens the PKI under <data-dir>/tls, creating the CA and the client certificate the first time. */
  static async open(dataDir: string): Promise<DevPki> {
    const pki = await DevPki.openAt(devTlsRoot(dataDir), `dynamo dev CA (${dataDir})`);
    await pki.ensure(CLIENT_TLS_NAME, []);
    return pki;
  }

  /** Opens the client ports' own PKI under <data-dir>/client-tls, creating its CA the first time. */
  static openClientPort(dataDir: string): Promise<DevPki> {
    return DevPki.openAt(devClientPortTlsRoot(dataDir), `dynamo dev client-port CA (${dataDir})`);
  }

  private static async openAt(root: string, commonName: string): Promise<DevPki> {
    mkdirSync(root, { recursive: true, mode: 0o700 });
    const certPath = join(root, "ca.crt");
    const keyPath = join(root, "ca.key");
    if (!existsSync(certPath) || !existsSync(keyPath)) {
      const ca = await createCa({ commonName });
      writeFileSync(keyPath, ca.key, { mode: 0o600 });
      writeFileSync(certPath, ca.cert, { mode: 0o600 });
    }
    return new DevPki(root, { cert: readFileSync(certPath, "utf8"), key: readFileSync(keyPath, "utf8") });
  }

  /** The path of this PKI's CA certificate, the file its clients trust. */
  get caPath(): string {
    return join(this.root, "ca.crt");
  }

  /** The TLS directory of `name` (a node id, or "client"), issuing its certificate when needed. */
  async ensure(name: string, hosts: string[]): Promise<string> {
    const dir = join(this.root, name);
    if (!this.current(dir)) {
      const leaf = await issueCertificate(this.ca, { commonName: name, hosts: ["localhost", ...hosts] });
      writeTlsDir(dir, { ca: this.ca.cert, cert: leaf.cert, key: leaf.key });
    }
    return dir;
  }

  clientTls(): ClientTlsOptions {
    return clientTlsOptions(readTlsMaterial(join(this.root, CLIENT_TLS_NAME)));
  }

  private current(dir: string): boolean {
    try {
      const material = readTlsMaterial(dir);
      if (material.ca !== this.ca.cert) return false;
      return certificateSummary(material.cert).notAfter.getTime() - Date.now() > RENEW_BEFORE_MS;
    } catch {
      return false;
    }
  }
}
