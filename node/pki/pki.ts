/**
 * A small PKI for a cluster: a certificate authority and the leaf certificates it issues, ECDSA P-256 keys and
 * SHA-256 signatures, all as PEM text. Kept apart from node/tls (which only loads and checks certificates) because
 * its library is large: a storage node never issues certificates and does not load it. `dynamo dev` uses it to create its CA and one certificate per node (and one for
 * itself, as a client); the operator uses the same functions for the CA and per-pod certificates it keeps in Secrets.
 * Node 20 can verify certificates but cannot create them, so creation goes through @peculiar/x509 on Node's WebCrypto.
 *
 * A leaf is good for both ends of a TLS connection (serverAuth and clientAuth) by default: peers call each other, so
 * each node is a server and a client of the same protocol. `serverOnly` leaves out clientAuth, for a certificate that
 * only serves (the operator's client-port certificate), so that it can never log in to a peer port of the same CA.
 */
// @peculiar/x509 resolves its algorithms through a dependency-injection container that needs this polyfill loaded first.
import "reflect-metadata";
import { randomBytes, webcrypto } from "node:crypto";
import { isIP } from "node:net";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(globalThis.crypto);

const ALGORITHM = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const DAY_MS = 24 * 60 * 60 * 1000;

/** A certificate and its private key, PEM encoded (the key as PKCS #8). */
export interface CertificateAndKey {
  cert: string;
  key: string;
}

export interface CaOptions {
  commonName: string;
  /** Default 3650 (ten years). */
  validityDays?: number;
  now?: Date;
  /** Exact validity bounds, for callers that keep their own schedule (the operator); they override the two above. */
  notBefore?: Date;
  notAfter?: Date;
}

export interface LeafOptions {
  commonName: string;
  /** Host names the certificate is good for (subject alternative names). */
  hosts?: string[];
  /** Default 365. */
  validityDays?: number;
  now?: Date;
  /** Exact validity bounds, for callers that keep their own schedule (the operator); they override the two above. */
  notBefore?: Date;
  notAfter?: Date;
  /** serverAuth alone: a peer port refuses it as a client certificate. */
  serverOnly?: boolean;
}

/** Creates a self-signed certificate authority. */
export async function createCa(options: CaOptions): Promise<CertificateAndKey> {
  const keys = (await webcrypto.subtle.generateKey(ALGORITHM, true, ["sign", "verify"])) as webcrypto.CryptoKeyPair;
  const { notBefore, notAfter } = validity(options, 3650);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: `CN=${escapeName(options.commonName)}`,
    notBefore,
    notAfter,
    signingAlgorithm: ALGORITHM,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert: cert.toString("pem") + "\n", key: await privateKeyPem(keys.privateKey) };
}

/** Issues a leaf certificate (server and client) signed by `ca`, for a fresh key pair. */
export async function issueCertificate(ca: CertificateAndKey, options: LeafOptions): Promise<CertificateAndKey> {
  const caCert = new x509.X509Certificate(ca.cert);
  const caKey = await webcrypto.subtle.importKey("pkcs8", pemBody(ca.key), ALGORITHM, false, ["sign"]);
  const keys = (await webcrypto.subtle.generateKey(ALGORITHM, true, ["sign", "verify"])) as webcrypto.CryptoKeyPair;
  const { notBefore, notAfter } = validity(options, 365);
  const names = (options.hosts ?? []).map((host) => (isIP(host) ? { type: "ip" as const, value: host } : { type: "dns" as const, value: host }));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: `CN=${escapeName(options.commonName)}`,
    issuer: caCert.subject,
    notBefore,
    notAfter,
    signingAlgorithm: ALGORITHM,
    publicKey: keys.publicKey,
    signingKey: caKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
      new x509.ExtendedKeyUsageExtension(options.serverOnly ? [x509.ExtendedKeyUsage.serverAuth] : [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth], false),
      ...(names.length > 0 ? [new x509.SubjectAlternativeNameExtension(names, false)] : []),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(caCert, false),
    ],
  });
  return { cert: cert.toString("pem") + "\n", key: await privateKeyPem(keys.privateKey) };
}

function validity(options: CaOptions | LeafOptions, defaultDays: number): { notBefore: Date; notAfter: Date } {
  const start = (options.now ?? new Date()).getTime();
  // Back-dated an hour so a peer whose clock is a little behind still accepts a certificate issued just now.
  const notBefore = options.notBefore ?? new Date(start - 60 * 60 * 1000);
  const notAfter = options.notAfter ?? new Date(start + (options.validityDays ?? defaultDays) * DAY_MS);
  if (notAfter.getTime() <= notBefore.getTime()) throw new RangeError(`a certificate's notAfter (${notAfter.toISOString()}) must follow its notBefore`);
  return { notBefore, notAfter };
}

function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0]! &= 0x7f; // positive, as RFC 5280 requires
  return bytes.toString("hex");
}

function escapeName(name: string): string {
  return name.replace(/[,+"\\<>;=]/g, (c) => `\\${c}`);
}

async function privateKeyPem(key: webcrypto.CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", key));
  const lines = der.toString("base64").match(/.{1,64}/g)!.join("\n");
  return `-----BEGIN PRIVATE KEY-----\n${lines}\n-----END PRIVATE KEY-----\n`;
}

function pemBody(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----[A-Z ]+-----/g, "").replace(/\s+/g, ""), "base64");
}
