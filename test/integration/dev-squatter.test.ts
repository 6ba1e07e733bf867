/**
 * `dynamo dev` trusts only nodes that prove who they are. A process squatting on a node's peer port (here: after the
 * supervisor was killed and the node died, another process took its port and claims to be it, naming a victim's pid)
 * gets no token and no signal: the supervisor's admin calls need the node to present a certificate from the
 * cluster's CA before anything is sent, and a pid is only signalled when it runs that node's data directory.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createServer as createPlainServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createTlsServer } from "node:https";
import { createServer as createNetServer, type AddressInfo, type Server } from "node:net";
import { createCa, issueCertificate } from "../../node/pki/index.js";
import { TestCluster } from "../helpers/dev-cluster.js";

describe("dynamo dev and a squatter on a node's peer port", function () {
  this.timeout(240_000);
  let cluster: TestCluster;
  let squatter: Server | undefined;
  let victim: ChildProcess | undefined;

  after(async function () {
    squatter?.close();
    victim?.kill("SIGKILL");
    await cluster?.destroy();
  });

  it("sends the squatter neither the token nor a signal to the pid it names", async function () {
    cluster = await TestCluster.start({ nodes: 3, partitions: 16 });
    const node1 = cluster.nodes()[1]!;
    const port = Number(new URL(node1.peerUrl).port);
    victim = spawn("sleep", ["600"], { stdio: "ignore" });

    // The supervisor dies without stopping its nodes, then node-1 dies too and a squatter takes its peer port.
    await cluster.crashSupervisorOnly();
    process.kill(node1.pid!, "SIGKILL");
    await new Promise((r) => setTimeout(r, 500));
    const ca = await createCa({ commonName: "squatter CA" });
    const cert = await issueCertificate(ca, { commonName: "node-1", hosts: ["localhost", "127.0.0.1"] });
    const seen: string[] = [];
    const pose = (req: IncomingMessage, res: ServerResponse) => {
      seen.push(`${req.method} ${req.url} ${req.headers.authorization ?? "no token"}`);
      const body = { id: "node-1", pid: victim!.pid, incarnation: "x", actor: "x", epoch: 99, clientUrl: "http://127.0.0.1:1", peerUrl: node1.peerUrl, ready: true, uptimeMs: 1 };
      res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify({ ...body, hints: { count: 0, bytes: 0, byOwner: {} }, rebuildingPartitions: 0, rebuild: "none", transfers: [] }));
    };
    // The squatter speaks whatever the supervisor speaks: TLS with a certificate of its own CA, or plain HTTP.
    const tlsPose = createTlsServer({ cert: cert.cert, key: cert.key }, pose);
    const plainPose = createPlainServer(pose);
    squatter = createNetServer((socket) => {
      socket.once("data", (first: Buffer) => {
        socket.pause();
        socket.unshift(first);
        (first[0] === 0x16 ? tlsPose : plainPose).emit("connection", socket);
        socket.resume();
      });
    });
    squatter.listen(port, "127.0.0.1");
    await once(squatter, "listening");
    assert.equal((squatter.address() as AddressInfo).port, port);

    // A new supervisor over the same directory cannot start node-1 (its port is taken) and says so.
    await assert.rejects(cluster.startSupervisor(), /exited|did not start/);
    assert.deepEqual(seen, [], "the squatter never got past the TLS handshake");
    assert.equal(victim.exitCode, null, "the victim was not signalled");
    assert.equal(victim.signalCode, null);
  });
});
