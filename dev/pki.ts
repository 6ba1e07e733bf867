/**
 * The local cluster's certificates. `dynamo dev` creates a CA once in <data-dir>/tls (its key never leaves that
 * owner-only directory), a certificate for each node in <data-dir>/tls/<node-id>/ and one for clients of the peer port
 * (the supervisor itself, the CLI, tests, the benchmark) in <data-dir>/tls/client/, each directory laid out as the
 * node's --tls-dir expects. Certificates are issued again when missing, not from the current CA, or within 30 days of
 * expiry, so a cluster left for a year still starts. Because only this CA's certificates are accepted on the peer
 * ports, a process squatting on a node's port cannot pass for the node: the supervisor's admin calls refuse its
 * handshake before the token is sent.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { certificateSummary, clientTlsOptions, createCa, issueCertificate, readTlsMaterial, writeTlsDir, type CertificateAndKey, type ClientTlsOptions } from "../node/tls/index.js";

const RENEW_BEFORE_MS = 30 * 24 * 60 * 60 * 1000;
export const CLIENT_TLS_NAME = "client";

export function devTlsRoot(dataDir: string): string {
  return join(dataDir, "tls");
}

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
    const root = devTlsRoot(dataDir);
    mkdirSync(root, { recursive: true, mode: 0o700 });
    const certPath = join(root, "ca.crt");
    const keyPath = join(root, "ca.key");
    if (!existsSync(certPath) || !existsSync(keyPath)) {
      const ca = await createCa({ commonName: `dynamo dev CA (${dataDir})` });
      writeFileSync(keyPath, ca.key, { mode: 0o600 });
      writeFileSync(certPath, ca.cert, { mode: 0o600 });
    }
    const pki = new DevPki(root, { cert: readFileSync(certPath, "utf8"), key: readFileSync(keyPath, "utf8") });
    await pki.ensure(CLIENT_TLS_NAME, []);
    return pki;
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
