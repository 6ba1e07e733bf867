/**
 * The operator's certificates on real nodes, without Kubernetes: the same ClusterCertificates the operator runs
 * issues a CA and per-pod certificates, a stand-in for the kubelet delivers each Secret to each node's mounted
 * directory (atomically, through a `..data` symlink swap, after a delay of its own), and three nodes run mutual TLS on
 * the peer port and TLS on the client port from them. Under load at r=w=2, leaf certificates renew and the CA rotates
 * (begin, switch, retire) with no failed request, the operator's admin calls keep working throughout, and at the end
 * every node trusts only the new CA.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync, existsSync, readlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import type { KubernetesObject, V1ConfigMap, V1Secret } from "@kubernetes/client-node";
import { AdminClient, RingDriver } from "../../driver/index.js";
import type { NodeInfo } from "../../node/protocol/index.js";
import { clientTlsOptions } from "../../node/tls/index.js";
import { ClusterCertificates, type StoredCertificates } from "../../operator/controller/index.js";
import { ROTATE_CA_ANNOTATION, clientServerName, secretStrings, summarize, type CertificateEvent, type NodeTlsReport } from "../../operator/certificates/index.js";
import type { DynamoCluster, TlsStatus } from "../../operator/api/index.js";
import { CLI } from "../helpers/dev-cluster.js";
import { seededRandom, type SeededRandom } from "../../lib/random.js";
import { testSeed } from "../helpers/random.js";
import { SetChecker, formatReport } from "../helpers/set-checker.js";
import { dynamoCluster } from "../unit/operator/fixtures.js";

const SUBNET = "127.53.0";
const PODS = ["kv-0", "kv-1", "kv-2"];

/** Writes a Secret's (or ConfigMap's) keys into a directory the way the kubelet does: all keys switch at once. */
function project(dir: string, data: Record<string, string>): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const version = `..${Date.now()}-${Math.random().toString(36).slice(2)}`;
  mkdirSync(join(dir, version), { mode: 0o700 });
  for (const [key, value] of Object.entries(data)) writeFileSync(join(dir, version, key), value, { mode: 0o600 });
  const old = existsSync(join(dir, "..data")) ? readlinkSync(join(dir, "..data")) : undefined;
  symlinkSync(version, join(dir, "..data_tmp"));
  renameSync(join(dir, "..data_tmp"), join(dir, "..data"));
  for (const key of Object.keys(data)) if (!existsSync(join(dir, key))) symlinkSync(join("..data", key), join(dir, key));
  if (old) rmSync(join(dir, old), { recursive: true, force: true });
}

class Harness {
  readonly dir = mkdtempSync(join(tmpdir(), "dynamo-opcerts-"));
  readonly token = `opcerts-${Math.random().toString(36).slice(2)}-${Date.now()}`;
  readonly children = new Map<string, ChildProcess>();
  readonly stored: StoredCertificates = {};
  readonly events: CertificateEvent[] = [];
  readonly adminFailures: string[] = [];
  caBundle = "";
  status: TlsStatus | undefined;
  cluster: DynamoCluster;
  readonly certificates = new ClusterCertificates({ clusterDomain: "cluster.local", now: Date.now });
  readonly admin = new AdminClient(this.token, 5000, () => this.certificates.adminTls());
  private timers = new Set<NodeJS.Timeout>();

  constructor(private readonly random: SeededRandom) {
    writeFileSync(join(this.dir, "token"), this.token, { mode: 0o600 });
    // The shortest lifetimes the CRD accepts: a CA of 180 s keeps the new one in the bundles for 16 s before the switch.
    this.cluster = dynamoCluster({ tls: { certificateLifetimeSeconds: 60, caLifetimeSeconds: 180 } });
  }

  host(pod: string): string {
    return `${SUBNET}.${10 + PODS.indexOf(pod)}`;
  }

  peerUrl(pod: string): string {
    return `https://${this.host(pod)}:8081`;
  }

  clientUrls(): string[] {
    return PODS.map((p) => `https://${this.host(p)}:8080`);
  }

  /** Stores what the operator applied and has the "kubelet" deliver it to each node after its own delay. */
  private apply(objects: KubernetesObject[]): void {
    for (const object of objects) {
      const name = object.metadata?.name ?? "";
      if (object.kind === "ConfigMap") {
        this.caBundle = (object as V1ConfigMap).data?.["ca.crt"] ?? "";
        continue;
      }
      const secret = object as V1Secret;
      if (name.endsWith("-ca-key")) this.stored.caSecret = secret;
      const mount = name.endsWith("-peer-tls") ? "peer" : name.endsWith("-client-tls") ? "client" : undefined;
      if (name.endsWith("-peer-tls")) this.stored.peerSecret = secret;
      if (name.endsWith("-client-tls")) this.stored.clientSecret = secret;
      if (!mount) continue;
      const data = secretStrings(secret) ?? {};
      for (const pod of PODS) {
        const timer = setTimeout(() => {
          this.timers.delete(timer);
          project(join(this.dir, pod, mount), data);
        }, this.random.between(0, 2000));
        this.timers.add(timer);
      }
    }
  }

  /** One operator pass over the certificates, as the controller runs it. */
  async pass(): Promise<void> {
    await this.certificates.prepare(this.cluster, this.stored);
    const nodes: NodeTlsReport[] = [];
    for (const pod of PODS.filter((p) => this.children.has(p))) {
      let info: NodeInfo;
      try {
        info = await this.admin.node(this.peerUrl(pod));
      } catch (err) {
        this.adminFailures.push(`${pod}: ${(err as Error).message}`);
        nodes.push({ pod, reachable: false });
        continue;
      }
      nodes.push({ pod, reachable: true, peer: info.tls?.peer, client: info.tls?.client });
    }
    const { objects, report } = await this.certificates.step(this.cluster, { pods: PODS, nodes }, this.status);
    this.status = report.status;
    this.events.push(...report.events);
    assert.deepEqual(report.problems, []);
    this.apply(objects);
  }

  async startNode(pod: string): Promise<void> {
    const host = this.host(pod);
    const args = [
      CLI, "node", "--id", pod, "--host", host, "--data-dir", join(this.dir, pod, "data"), "--token-file", join(this.dir, "token"),
      "--tls-dir", join(this.dir, pod, "peer"), "--tls-name", pod, "--client-tls-dir", join(this.dir, pod, "client"),
    ];
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
    const log = createWriteStream(join(this.dir, `${pod}.log`), { flags: "a" });
    child.stdout!.pipe(log);
    child.stderr!.pipe(log);
    this.children.set(pod, child);
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`${pod} exited: ${readFileSync(join(this.dir, `${pod}.log`), "utf8").slice(-2000)}`);
      try {
        await this.admin.node(this.peerUrl(pod));
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    let lastError = "";
    await this.admin.node(this.peerUrl(pod)).catch((err: Error) => (lastError = err.message));
    throw new Error(`${pod} did not answer over mutual TLS (${lastError}): ${readFileSync(join(this.dir, `${pod}.log`), "utf8").slice(-2000)}`);
  }

  async destroy(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    for (const child of this.children.values()) {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = once(child, "exit");
        child.kill("SIGKILL");
        await exited;
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe("the operator's certificates on real nodes", function () {
  this.timeout(240_000);
  let harness: Harness;
  let passes: Promise<void> | undefined;
  let passing = false;

  before(async function () {
    harness = new Harness(seededRandom(testSeed("operator certificates")));
    // The first pass creates the CA and every certificate; the nodes start once their directories are filled.
    await harness.pass();
    // Each pod's peer and client directories are filled after delays of their own: wait for both, not just one.
    const filled = (pod: string) => existsSync(join(harness.dir, pod, "client", "tls.crt")) && existsSync(join(harness.dir, pod, "peer", "ca.crt"));
    await waitFor("the kubelet stand-in to fill every directory", async () => (PODS.every(filled) ? true : undefined), 10_000);
    for (const pod of PODS) await harness.startNode(pod);
    const driver = new RingDriver({ admin: harness.admin, partitions: 64, targetN: 3, log: () => undefined });
    const addresses = PODS.map((id) => ({ id, peerUrl: harness.peerUrl(id), clientUrl: `https://${harness.host(id)}:8080` }));
    await waitFor("the ring to settle", async () => ((await driver.step(addresses, PODS)).done ? true : undefined), 60_000);
    passing = true;
    passes = (async () => {
      while (passing) {
        await harness.pass();
        await new Promise((r) => setTimeout(r, 1000));
      }
    })();
  });

  after(async function () {
    passing = false;
    await passes?.catch(() => undefined);
    await harness?.destroy();
  });

  it("issues the client port a certificate that serves but cannot log in to a peer port", async function () {
    const client = secretStrings(harness.stored.clientSecret)!;
    const outsider = new AdminClient(harness.token, 5000, () => clientTlsOptions({ ca: client["ca.crt"]!, cert: client["tls.crt"]!, key: client["tls.key"]! }));
    await assert.rejects(outsider.node(harness.peerUrl("kv-0")));
    // The same token with the operator's certificate is let in: only the certificate differs.
    assert.equal((await harness.admin.node(harness.peerUrl("kv-0"))).id, "kv-0");
  });

  it("renews leaves and rotates the CA under load at r=w=2 without a failed request", async function () {
    const initialCa = summarize(harness.caBundle).fingerprint;
    let options = { ca: harness.caBundle, servername: clientServerName(harness.cluster) };
    const checker = new SetChecker({
      urls: () => harness.clientUrls(),
      client: () => {
        // A client that reloads the published CA whenever it changes, as one mounting ConfigMap X-ca would.
        if (options.ca !== harness.caBundle) options = { ...options, ca: harness.caBundle };
        return options;
      },
      bucket: "default",
      keys: 6,
      clients: 3,
      rng: seededRandom(7),
      w: 2,
      pauseMs: 20,
    });
    const adminFailuresBefore = harness.adminFailures.length;
    checker.start();
    try {
      // Leaves of 60 s renew with 20 s left: wait for every node's first renewal to reach it.
      await waitFor("a round of leaf renewals", async () => (harness.events.some((e) => /expires at/.test(e.message)) ? true : undefined), 90_000);
      harness.cluster = { ...harness.cluster, metadata: { ...harness.cluster.metadata, annotations: { [ROTATE_CA_ANNOTATION]: "now" } } };
      await waitFor("the CA rotation to finish", async () => (harness.events.some((e) => e.reason === "CARotationFinished") ? true : undefined), 120_000);
      await new Promise((r) => setTimeout(r, 3000));
    } finally {
      await checker.stop();
    }
    const reasons = harness.events.map((e) => e.reason);
    for (const reason of ["CACreated", "CertificatesIssued", "CARotationStarted", "CARotationSwitched", "CARotationFinished"]) assert.ok(reasons.includes(reason), `no ${reason} Event: ${reasons.join(", ")}`);
    assert.ok(!reasons.includes("CARotationForced"));
    const report = await checker.check(harness.clientUrls()[0]!, 2);
    console.log(`    set checker: ${formatReport(report)}; ${checker.acknowledgedCount} acknowledged`);
    assert.equal(checker.failures, 0, `failed requests: ${checker.errors.slice(0, 5).join("; ")}`);
    assert.deepEqual(report.lost, []);
    assert.ok(checker.acknowledgedCount > 50, "the load made progress");
    assert.deepEqual(harness.adminFailures.slice(adminFailuresBefore), [], "the operator's admin calls failed");

    // Every node now trusts the new CA alone and presents a certificate from it, on both ports.
    const newCa = summarize(harness.caBundle).fingerprint;
    assert.notEqual(newCa, initialCa);
    // The retiring bundle reaches the nodes after the kubelet's delay and their next re-read (every 5 s).
    for (const pod of PODS) {
      const info = await waitFor(`${pod} to trust the new CA alone`, async () => {
        const reported = await harness.admin.node(harness.peerUrl(pod));
        return isDeepStrictEqual(reported.tls?.peer?.caFingerprints, [newCa]) ? reported : undefined;
      }, 20_000);
      const stored = secretStrings(harness.stored.peerSecret)?.[`${pod}.tls.crt`] ?? "";
      assert.equal(info.tls?.peer?.certFingerprint, summarize(stored).fingerprint);
      assert.equal(info.tls?.client?.certFingerprint, summarize(secretStrings(harness.stored.clientSecret)?.["tls.crt"] ?? "").fingerprint);
    }
  });
});
