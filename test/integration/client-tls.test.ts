/**
 * TLS on the client port (`dynamo dev --client-tls`, `dynamo node --client-tls-dir`): nodes serve HTTPS with a
 * certificate from the client ports' own CA, clients that trust that CA (curl --cacert, DynamoClient `ca`, the CLI's
 * --ca or DYNAMO_CA) get through, plain HTTP and clients that do not trust it do not, and a new certificate written
 * into the directory is served to new connections without a restart.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { connect } from "node:tls";
import { DynamoClient } from "../../client/index.js";
import { CLIENT_PORT_TLS_NAME, devClientPortTlsRoot } from "../../dev/pki.js";
import { readDevState } from "../../dev/state.js";
import { readTlsMaterial, writeTlsDir } from "../../node/tls/index.js";
import { issueCertificate } from "../../node/pki/index.js";
import { TestCluster, runCli } from "../helpers/dev-cluster.js";
import { http, kvUrl } from "../helpers/http.js";

function servedSerial(url: string, ca: Buffer): Promise<string> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: target.hostname, port: Number(target.port), ca, servername: "localhost" }, () => {
      const serial = socket.getPeerCertificate().serialNumber;
      socket.destroy();
      resolve(serial);
    });
    socket.on("error", reject);
  });
}

describe("TLS on the client port", function () {
  let cluster: TestCluster;
  let url: string;
  let caPath: string;
  let ca: Buffer;

  before(async function () {
    cluster = await TestCluster.start({ nodes: 3, partitions: 16, clientTls: true });
    url = cluster.clientUrls()[0]!;
    caPath = readDevState(cluster.dataDir)!.clientCa!;
    ca = readFileSync(caPath);
  });
  after(async function () {
    await cluster?.destroy();
  });

  it("every node serves https, and dev.json names the CA to trust", async function () {
    for (const nodeUrl of cluster.clientUrls()) assert.match(nodeUrl, /^https:\/\/127\.0\.0\.1:/);
    assert.equal(caPath, join(devClientPortTlsRoot(cluster.dataDir), "ca.crt"));
    const put = await http("PUT", kvUrl(url, "default", "secret"), { body: "over tls", tls: { ca } });
    assert.equal(put.status, 204);
    assert.equal((await http("GET", kvUrl(cluster.clientUrls()[2]!, "default", "secret"), { tls: { ca } })).text(), "over tls");
    const members = ((await http("GET", `${url}/v1/cluster`, { tls: { ca } })).json() as { members: { clientUrl: string }[] }).members;
    assert.ok(members.every((m) => m.clientUrl.startsWith("https://")), "the ring advertises https client URLs");
  });

  it("the client port's CA is not the peer port's: its certificates cannot pass for a member", function () {
    const peerCa = readTlsMaterial(join(cluster.dataDir, "tls", "client")).ca;
    assert.notEqual(ca.toString(), peerCa);
  });

  it("plain HTTP and clients that do not trust the CA are refused", async function () {
    await assert.rejects(http("GET", url.replace("https:", "http:") + "/healthz"), /socket hang up|ECONNRESET|Parse Error/);
    await assert.rejects(http("GET", `${url}/healthz`, { tls: {} }), /self-signed|unable to verify|certificate/);
  });

  it("DynamoClient and the CLI reach the nodes with the CA", async function () {
    const client = new DynamoClient(cluster.clientUrls(), { ca });
    try {
      await client.put("default", "from-client", "typed");
      const got = await client.get("default", "from-client");
      assert.equal(got.kind === "value" && got.value.toString(), "typed");
    } finally {
      client.close();
    }
    const cli = await runCli(["get", "default", "from-client", "--url", url, "--ca", caPath]);
    assert.equal(cli.code, 0, cli.stderr);
    assert.equal(cli.stdout, "typed");
    const env = await runCli(["get", "default", "from-client", "--url", url], undefined, { DYNAMO_CA: caPath });
    assert.equal(env.code, 0, env.stderr);
    const untrusted = await runCli(["get", "default", "from-client", "--url", url]);
    assert.equal(untrusted.code, 1);
    assert.match(untrusted.stderr, /network_error/);
  });

  it("a new certificate in the directory is served to new connections without a restart", async function () {
    const root = devClientPortTlsRoot(cluster.dataDir);
    const dir = join(root, CLIENT_PORT_TLS_NAME);
    const before = await servedSerial(url, ca);
    const caMaterial = { cert: ca.toString(), key: readFileSync(join(root, "ca.key"), "utf8") };
    const next = await issueCertificate(caMaterial, { commonName: "rotated", hosts: ["localhost", "127.0.0.1"] });
    writeTlsDir(dir, { ca: ca.toString(), cert: next.cert, key: next.key });
    const deadline = Date.now() + 15_000;
    let now = before;
    while (now === before && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      now = await servedSerial(url, ca);
    }
    assert.notEqual(now, before, "the node serves the new certificate");
    assert.equal((await http("GET", kvUrl(url, "default", "secret"), { tls: { ca } })).text(), "over tls");
  });
});
