import assert from "node:assert/strict";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { certificateSummary, readTlsMaterial, TlsDir, writeTlsDir } from "../../../node/tls/index.js";
import { createCa, issueCertificate, type CertificateAndKey } from "../../../node/pki/index.js";

describe("TLS directories", function () {
  let dir: string;
  let ca: CertificateAndKey;
  let leaf: CertificateAndKey;

  before(async function () {
    ca = await createCa({ commonName: "test CA" });
    leaf = await issueCertificate(ca, { commonName: "node-0", hosts: ["localhost", "127.0.0.1"] });
  });
  beforeEach(function () {
    dir = mkdtempSync(join(tmpdir(), "dynamo-tls-"));
  });
  afterEach(function () {
    rmSync(dir, { recursive: true, force: true });
  });

  it("are written owner-only and load back as a consistent set", function () {
    writeTlsDir(join(dir, "n"), { ca: ca.cert, cert: leaf.cert, key: leaf.key });
    assert.equal(statSync(join(dir, "n")).mode & 0o777, 0o700);
    for (const file of ["ca.crt", "tls.crt", "tls.key"]) assert.equal(statSync(join(dir, "n", file)).mode & 0o777, 0o600);
    const loaded = TlsDir.load(join(dir, "n"));
    assert.equal(certificateSummary(loaded.material.cert).commonName, "node-0");
  });

  it("read again, give the set already checked until a file changes, and a rotated or broken set at once", async function () {
    const at = join(dir, "client");
    writeTlsDir(at, { ca: ca.cert, cert: leaf.cert, key: leaf.key });
    const first = readTlsMaterial(at);
    assert.equal(readTlsMaterial(at), first, "unchanged files are not parsed again");
    const next = await issueCertificate(ca, { commonName: "node-0", hosts: ["localhost", "127.0.0.1"] });
    writeTlsDir(at, { ca: ca.cert, cert: next.cert, key: next.key });
    assert.equal(readTlsMaterial(at).cert, next.cert, "a rotation is read at the next call");
    // The old key written in place, without a rename: it no longer matches the certificate.
    writeFileSync(join(at, "tls.key"), leaf.key);
    assert.throws(() => readTlsMaterial(at), /TLS directory/, "a key of another certificate is refused, not served from the cache");
  });

  it("refuse a missing file, a key of another certificate and a certificate of another CA, naming the problem", async function () {
    assert.throws(() => TlsDir.load(dir), /has no ca\.crt/);
    const other = await issueCertificate(ca, { commonName: "node-1" });
    writeTlsDir(dir, { ca: ca.cert, cert: leaf.cert, key: other.key });
    assert.throws(() => TlsDir.load(dir), /tls\.key is not the key of tls\.crt/);
    const strangerCa = await createCa({ commonName: "stranger" });
    writeTlsDir(dir, { ca: strangerCa.cert, cert: leaf.cert, key: leaf.key });
    assert.throws(() => TlsDir.load(dir), /not signed by a CA in ca\.crt/);
    // During a CA rotation the bundle holds both CAs, and a certificate of either is good.
    writeTlsDir(dir, { ca: strangerCa.cert + ca.cert, cert: leaf.cert, key: leaf.key });
    assert.doesNotThrow(() => TlsDir.load(dir));
  });

  it("hand a rotated set to the watcher once it is consistent, and only then", async function () {
    writeTlsDir(dir, { ca: ca.cert, cert: leaf.cert, key: leaf.key });
    const tls = TlsDir.load(dir);
    const changes: string[] = [];
    const problems: string[] = [];
    tls.watch(20, (m) => changes.push(certificateSummary(m.cert).commonName), (p) => problems.push(p));
    try {
      const next = await issueCertificate(ca, { commonName: "node-0-renewed" });
      // The certificate lands before its key: not yet a consistent set.
      writeFileSync(join(dir, "tls.crt"), next.cert);
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(changes, []);
      assert.equal(problems.length, 1, problems.join("; "));
      assert.equal(certificateSummary(tls.material.cert).commonName, "node-0");
      writeFileSync(join(dir, "tls.key"), next.key);
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(changes, ["node-0-renewed"]);
      assert.equal(certificateSummary(tls.clientOptions().cert).commonName, "node-0-renewed");
    } finally {
      tls.close();
    }
  });
});
