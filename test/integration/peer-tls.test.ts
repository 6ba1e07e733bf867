/**
 * Mutual TLS on the peer port of real nodes: only holders of a certificate from the cluster's CA get a connection,
 * certificates rotate without a restart or a failed request, a node will not run its peer port in plaintext unless
 * told to in so many words, and everything a local cluster writes is owner-only.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { once } from "node:events";
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "node:tls";
import { AdminClient } from "../../driver/index.js";
import { clientTlsOptions, writeTlsDir } from "../../node/tls/index.js";
import { createCa, issueCertificate } from "../../node/pki/index.js";
import { CLI, freePortBlock, runCli, TestCluster } from "../helpers/dev-cluster.js";
import { http, kvUrl } from "../helpers/http.js";

/** The serial number of the certificate a TLS server presents, connecting with `options`. */
async function servedSerial(peerUrl: string, options: object): Promise<string> {
  const url = new URL(peerUrl);
  const socket = connect({ host: url.hostname, port: Number(url.port), ...options });
  await once(socket, "secureConnect");
  const serial = socket.getPeerCertificate().serialNumber;
  socket.destroy();
  return serial.toLowerCase().replace(/^0+/, "");
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    return e.isDirectory() ? [path, ...walk(path)] : [path];
  });
}

/**
 * The established TCP connections between the nodes' processes, by pair of node ids, counted at the dialing end: a
 * socket of one node's process whose remote port is another node's peer port (Linux's /proc).
 */
function peerConnections(nodes: { id: string; pid: number | null; peerUrl: string }[]): Map<string, number> {
  const peerPorts = new Map(nodes.map((node) => [Number(new URL(node.peerUrl).port), node.id]));
  const remotePortOf = new Map<string, number>();
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    for (const row of readFileSync(table, "utf8").split("\n").slice(1)) {
      const fields = row.trim().split(/\s+/);
      // Field 3 is the state (01: established), field 9 the socket's inode.
      if (fields.length < 10 || fields[3] !== "01") continue;
      remotePortOf.set(fields[9]!, parseInt(fields[2]!.split(":")[1]!, 16));
    }
  }
  const pairs = new Map<string, number>();
  for (const node of nodes) {
    assert.ok(node.pid, `${node.id} is running`);
    for (const fd of readdirSync(`/proc/${node.pid}/fd`)) {
      let target: string;
      try {
        target = readlinkSync(`/proc/${node.pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
      const to = inode === undefined ? undefined : peerPorts.get(remotePortOf.get(inode) ?? -1);
      if (to === undefined || to === node.id) continue;
      const pair = [node.id, to].sort().join("~");
      pairs.set(pair, (pairs.get(pair) ?? 0) + 1);
    }
  }
  return pairs;
}

describe("mutual TLS on the peer port", function () {
  let cluster: TestCluster;

  before(async function () {
    cluster = await TestCluster.start({ nodes: 3, partitions: 32 });
  });
  after(async function () {
    await cluster?.destroy();
  });

  it("peers are https in dev.json, and every directory and file of the cluster is owner-only", async function () {
    assert.ok(cluster.nodes().every((n) => n.peerUrl.startsWith("https://")), JSON.stringify(cluster.nodes()));
    assert.equal((await http("PUT", kvUrl(cluster.clientUrls()[0]!, "default", "k"), { body: "v" })).status, 204);
    const open = [cluster.dataDir, ...walk(cluster.dataDir)].filter((p) => (statSync(p).mode & 0o077) !== 0);
    assert.deepEqual(open, [], "nothing readable by group or others");
  });

  it("refuses clients without a certificate from the cluster CA, and plain HTTP, before reading a request", async function () {
    const peerUrl = cluster.nodes()[0]!.peerUrl;
    const tls = cluster.peerTls!;
    const auth = { Authorization: `Bearer ${cluster.token}` };
    assert.equal((await http("GET", `${peerUrl}/v1/admin/node`, { headers: auth, tls })).status, 200);
    await assert.rejects(http("GET", `${peerUrl}/v1/admin/node`, { headers: auth, tls: { ca: tls.ca, checkServerIdentity: () => undefined } }));
    const strangerCa = await createCa({ commonName: "another cluster" });
    const stranger = await issueCertificate(strangerCa, { commonName: "node-0", hosts: ["127.0.0.1"] });
    await assert.rejects(http("GET", `${peerUrl}/v1/admin/node`, { headers: auth, tls: { ...tls, cert: stranger.cert, key: stranger.key } }));
    await assert.rejects(http("GET", `${peerUrl.replace("https:", "http:")}/v1/admin/node`, { headers: auth }));
    // A client checks the node too: a node without a certificate from the CA it trusts never gets the token.
    const wary = new AdminClient(cluster.token, 5000, () => clientTlsOptions({ ca: strangerCa.cert, cert: stranger.cert, key: stranger.key }));
    await assert.rejects(wary.node(peerUrl), /failed/);
  });

  it("keeps one peer connection per pair of nodes, the lower id's, carrying both nodes' requests", async function () {
    this.timeout(30_000);
    const nodes = cluster.nodes();
    // Writes through every node make each one replicate to both others, so every node has requests for every peer.
    for (let i = 0; i < 60; i++) {
      const url = cluster.clientUrls()[i % nodes.length]!;
      assert.equal((await http("PUT", kvUrl(url, "default", `pair-${i}`), { body: `v${i}` })).status, 204);
    }
    // A node that dialed a lower peer before being offered that peer's connection ends its own once it is answered.
    const deadline = Date.now() + 15_000;
    let pairs = peerConnections(nodes);
    while (Date.now() < deadline && ![...pairs.values()].every((count) => count === 1)) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      pairs = peerConnections(nodes);
    }
    assert.deepEqual(Object.fromEntries([...pairs].sort()), { "node-0~node-1": 1, "node-0~node-2": 1, "node-1~node-2": 1 });
  });

  it("rotates a node's certificate without a restart and without a failed request", async function () {
    this.timeout(60_000);
    const nodes = cluster.nodes();
    const tlsDir = join(cluster.dataDir, "tls", "node-0");
    const ca = { cert: readFileSync(join(cluster.dataDir, "tls", "ca.crt"), "utf8"), key: readFileSync(join(cluster.dataDir, "tls", "ca.key"), "utf8") };
    const clientOptions = { ...cluster.peerTls! };
    const before = await servedSerial(nodes[0]!.peerUrl, clientOptions);

    let stop = false;
    const failures: string[] = [];
    let writes = 0;
    const load = (async () => {
      for (let i = 0; !stop; i++) {
        // A key of its own for each write: blind writes to a few keys would pile up siblings past the bucket's limit
        // (409) on a fast machine or a slow rotation, which says nothing about the certificate.
        const reply = await http("PUT", kvUrl(cluster.clientUrls()[i % 3]!, "default", `rotation-${i}`), { body: `v${i}` });
        writes += 1;
        if (reply.status !== 204) failures.push(`${reply.status} ${reply.text()}`);
      }
    })();
    const leaf = await issueCertificate(ca, { commonName: "node-0", hosts: ["localhost", "127.0.0.1"] });
    writeTlsDir(tlsDir, { ca: ca.cert, cert: leaf.cert, key: leaf.key });
    const expected = new X509Certificate(leaf.cert).serialNumber.toLowerCase().replace(/^0+/, "");
    const deadline = Date.now() + 20_000;
    let served = before;
    while (served !== expected && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
      served = await servedSerial(nodes[0]!.peerUrl, clientOptions);
    }
    stop = true;
    await load;
    assert.equal(served, expected, "new connections get the new certificate");
    assert.notEqual(before, expected);
    assert.ok(writes > 10, `${writes} writes during the rotation`);
    assert.deepEqual(failures, []);
    assert.match(await cluster.logsMatching(/reloaded the peer port's TLS certificates/, [0]), /reloaded the peer port's TLS certificates/);
  });
});

describe("a node without a TLS directory", function () {
  let dir: string;
  before(function () {
    dir = mkdtempSync(join(tmpdir(), "dynamo-notls-"));
    writeFileSync(join(dir, "token"), "t".repeat(32), { mode: 0o600 });
  });
  after(function () {
    rmSync(dir, { recursive: true, force: true });
  });

  it("refuses to start, naming both ways out", async function () {
    const r = await runCli(["node", "--token-file", join(dir, "token"), "--data-dir", join(dir, "data")]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--tls-dir is required.*--insecure-peer-plaintext/);
  });

  it("runs its peer port in plaintext only when told to, and warns at start", async function () {
    const port = await freePortBlock(2);
    const child = spawn(process.execPath, [CLI, "node", "--token-file", join(dir, "token"), "--data-dir", join(dir, "data"), "--port", String(port), "--peer-port", String(port + 1), "--insecure-peer-plaintext"], { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
    try {
      const deadline = Date.now() + 20_000;
      while (!/serving clients/.test(output) && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 100));
      assert.match(output, /PEER TLS IS OFF \(--insecure-peer-plaintext\)/);
    } finally {
      child.kill("SIGKILL");
      await once(child, "exit");
    }
  });
});
