/**
 * A TLS directory: `ca.crt` (the cluster CA, possibly several during a CA rotation), `tls.crt` and `tls.key` (this
 * party's certificate and key), the layout of a Kubernetes `kubernetes.io/tls` Secret and of cert-manager's
 * Certificates. The same material serves both ends of mutual TLS: the certificate is presented as a server and as a
 * client, and the peer's certificate must chain to the CA.
 *
 * Rotation needs no restart: `watch` re-reads the files on a schedule (content, not timestamps, since a mounted
 * Secret is swapped through symbolic links) and, once the new files are a consistent set (the key matches the
 * certificate, the certificate chains to a CA in the bundle), hands them to `onChange`. A half-written rotation is
 * ignored until it completes. Connections already open keep their session; new ones use the new material.
 *
 * Peer identity is the CA: any certificate it issued belongs to the cluster, so host names are not checked (a pod's
 * address changes with every restart and is not in its certificate). Each cluster therefore needs its own CA.
 */
import { createHash, createPrivateKey, X509Certificate } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { SecureContextOptions } from "node:tls";
import { RecentMap } from "../../lib/recent-map.js";
import { DynamoError } from "../errors/index.js";
import { splitPemBundle } from "./pem.js";

export const TLS_FILES = { ca: "ca.crt", cert: "tls.crt", key: "tls.key" } as const;

/** The names of a TLS directory's three files. */
export interface TlsFileNames {
  ca: string;
  cert: string;
  key: string;
}

/**
 * The files of one party in a directory shared by several (a Secret holding every node of a StatefulSet, which cannot
 * mount a Secret per pod): the common `ca.crt`, and `NAME.tls.crt` and `NAME.tls.key`. Without a name, the usual
 * `tls.crt` and `tls.key`.
 */
export function tlsFileNames(name?: string): TlsFileNames {
  if (name === undefined) return { ...TLS_FILES };
  if (!/^[a-zA-Z0-9][a-zA-Z0-9._-]{0,62}$/.test(name)) throw new DynamoError("invalid_request", `TLS name '${name}' must be 1-63 letters, digits, '.', '_' or '-'`);
  return { ca: TLS_FILES.ca, cert: `${name}.${TLS_FILES.cert}`, key: `${name}.${TLS_FILES.key}` };
}

/** SHA-256 fingerprints of loaded material, for a party to say which certificates it uses (the admin API's node info). */
export interface TlsFingerprints {
  /** Of every CA in ca.crt, in file order. */
  caFingerprints: string[];
  /** Of the party's own certificate. */
  certFingerprint: string;
  /** When the party's own certificate expires (ISO 8601). */
  certNotAfter: string;
}

/** Colon-free lower-case hex SHA-256 of a certificate's DER, the form the operator compares. */
export function certificateFingerprint(pem: string): string {
  return new X509Certificate(pem).fingerprint256.replace(/:/g, "").toLowerCase();
}

export function fingerprintsOf(material: TlsMaterial): TlsFingerprints {
  const cert = new X509Certificate(material.cert);
  return {
    caFingerprints: splitPemBundle(material.ca).map(certificateFingerprint),
    certFingerprint: cert.fingerprint256.replace(/:/g, "").toLowerCase(),
    certNotAfter: new Date(cert.validTo).toISOString(),
  };
}

export interface TlsMaterial {
  ca: string;
  cert: string;
  key: string;
}

/** Options for a TLS client (a peer call, an admin call) that verifies the server against the cluster CA. */
export interface ClientTlsOptions extends SecureContextOptions {
  ca: string;
  cert: string;
  key: string;
  rejectUnauthorized: true;
  checkServerIdentity: () => undefined;
}

export class TlsDir {
  private current: TlsMaterial;
  private fingerprint: string;
  private summary: TlsFingerprints;
  private timer: NodeJS.Timeout | undefined;

  private constructor(
    readonly dir: string,
    readonly files: TlsFileNames,
    material: TlsMaterial,
  ) {
    this.current = material;
    this.fingerprint = fingerprintOf(material);
    this.summary = fingerprintsOf(material);
  }

  /**
   * Reads and checks the directory; throws a DynamoError naming what is missing or wrong. `name` picks this party's
   * files in a directory shared by several (see `tlsFileNames`).
   */
  static load(dir: string, name?: string): TlsDir {
    const files = tlsFileNames(name);
    return new TlsDir(dir, files, readTlsMaterial(dir, files));
  }

  get material(): TlsMaterial {
    return this.current;
  }

  /** Which certificates are in use now. */
  fingerprints(): TlsFingerprints {
    return this.summary;
  }

  /** Options for a peer-port server: present our certificate, require and verify the client's. */
  serverOptions(): SecureContextOptions & { requestCert: true; rejectUnauthorized: true } {
    return { ...this.current, requestCert: true, rejectUnauthorized: true };
  }

  clientOptions(): ClientTlsOptions {
    return clientTlsOptions(this.current);
  }

  /**
   * Polls the files every `intervalMs` and calls `onChange` with each new consistent set; `onError` hears about a set
   * that is not (yet) consistent, at most once per distinct content.
   */
  watch(intervalMs: number, onChange: (material: TlsMaterial) => void, onError: (message: string) => void): void {
    let lastBad = "";
    this.timer = setInterval(() => {
      let raw: TlsMaterial;
      try {
        raw = readFiles(this.dir, this.files);
      } catch (err) {
        const message = (err as Error).message;
        if (message !== lastBad) onError(message);
        lastBad = message;
        return;
      }
      const fingerprint = fingerprintOf(raw);
      if (fingerprint === this.fingerprint) return;
      try {
        checkMaterial(raw, this.dir, this.files);
      } catch (err) {
        if (fingerprint !== lastBad) onError((err as Error).message);
        lastBad = fingerprint;
        return;
      }
      this.current = raw;
      this.fingerprint = fingerprint;
      this.summary = fingerprintsOf(raw);
      onChange(raw);
    }, intervalMs);
    this.timer.unref();
  }

  close(): void {
    clearInterval(this.timer);
  }
}

export function clientTlsOptions(material: TlsMaterial): ClientTlsOptions {
  return { ...material, rejectUnauthorized: true, checkServerIdentity: () => undefined };
}

/**
 * Writes a TLS directory, owner-only (0700, files 0600). Each file is written beside its final name and renamed over
 * it, and the key goes last, so a watcher sees at worst a new certificate with the old key for a moment, which fails
 * the consistency check and is retried, never a torn file.
 */
export function writeTlsDir(dir: string, material: TlsMaterial): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  for (const [field, name] of [["ca", TLS_FILES.ca], ["cert", TLS_FILES.cert], ["key", TLS_FILES.key]] as const) {
    const path = join(dir, name);
    writeFileSync(`${path}.tmp`, material[field], { mode: 0o600 });
    renameSync(`${path}.tmp`, path);
  }
}

/**
 * Reads a TLS directory and checks that its files form a consistent set. Callers that read it for every call they
 * make (the `dynamo dev` supervisor's admin calls, several a second while a ring changes) get the set they were given
 * before while no file has changed since: parsing the certificates and the key to check them cost the supervisor
 * 285 ms of CPU in a 15 s rebalance step. A file's identity, size and times tell a change; writeTlsDir renames a new
 * file over the old one, so a rotation is seen at the next call.
 */
export function readTlsMaterial(dir: string, files: TlsFileNames = TLS_FILES): TlsMaterial {
  const cacheKey = `${dir}\u0000${files.ca}\u0000${files.cert}\u0000${files.key}`;
  const stamp = stampOf(dir, files);
  const cached = stamp === undefined ? undefined : checkedMaterial.get(cacheKey);
  if (cached && cached.stamp === stamp) return cached.material;
  const material = readFiles(dir, files);
  checkMaterial(material, dir, files);
  if (stamp !== undefined) checkedMaterial.set(cacheKey, { stamp, material });
  return material;
}

/** Checked sets by directory; a process reads a few at most, and the bound keeps one that reads many from growing it. */
const checkedMaterial = new RecentMap<string, { stamp: string; material: TlsMaterial }>(16);

/** The identity, size and times of a directory's three files, or undefined when one cannot be read. */
function stampOf(dir: string, files: TlsFileNames): string | undefined {
  const parts: string[] = [];
  for (const name of [files.ca, files.cert, files.key]) {
    const stat = statSync(join(dir, name), { bigint: true, throwIfNoEntry: false });
    if (!stat) return undefined;
    parts.push(`${stat.dev}:${stat.ino}:${stat.size}:${stat.mtimeNs}:${stat.ctimeNs}`);
  }
  return parts.join("/");
}

function readFiles(dir: string, files: TlsFileNames): TlsMaterial {
  const read = (name: string) => {
    const path = join(dir, name);
    if (!existsSync(path)) throw new DynamoError("invalid_request", `TLS directory ${dir} has no ${name} (it needs ${Object.values(files).join(", ")})`);
    return readFileSync(path, "utf8");
  };
  return { ca: read(files.ca), cert: read(files.cert), key: read(files.key) };
}

function checkMaterial(material: TlsMaterial, dir: string, files: TlsFileNames): void {
  const fail = (problem: string): never => {
    throw new DynamoError("invalid_request", `TLS directory ${dir}: ${problem}`);
  };
  let cert: X509Certificate;
  let cas: X509Certificate[];
  try {
    cert = new X509Certificate(material.cert);
    cas = splitPemBundle(material.ca).map((pem) => new X509Certificate(pem));
  } catch (err) {
    return fail(`a certificate does not parse: ${(err as Error).message}`);
  }
  if (cas.length === 0) fail(`${files.ca} holds no certificate`);
  let key;
  try {
    key = createPrivateKey(material.key);
  } catch (err) {
    return fail(`${files.key} does not parse: ${(err as Error).message}`);
  }
  if (!cert.checkPrivateKey(key)) fail(`${files.key} is not the key of ${files.cert}`);
  if (!cas.some((ca) => cert.checkIssued(ca) && cert.verify(ca.publicKey))) fail(`${files.cert} is not signed by a CA in ${files.ca}`);
  if (new Date(cert.validTo).getTime() < Date.now()) fail(`${files.cert} expired on ${cert.validTo}`);
}

function fingerprintOf(material: TlsMaterial): string {
  return createHash("sha256").update(material.ca).update("\0").update(material.cert).update("\0").update(material.key).digest("hex");
}
