/**
 * The lab's own checks, run inside a lab by test/integration/netlab.test.ts: each fault the nemesis relies on is
 * made and measured from the namespaces it should affect. Prints one `CHECK {json}` line per measurement; the test
 * asserts on them. Listeners stand in for nodes here, except in the first check, which starts real storage nodes.
 */
import { spawn } from "node:child_process";
import { connect } from "node:net";
import { DynamoClient } from "../../client/index.js";
import { NetCluster } from "./cluster.js";
import { LabClocks } from "./clock.js";
import { currentLab } from "./lab.js";
import { exitWithLauncher } from "./launch.js";
import { LabNetwork, partitionCuts } from "./network.js";
import { listener, probe } from "./probe.js";
import { runIn } from "./exec.js";

exitWithLauncher();
const lab = currentLab();
const report = (check: string, detail: unknown) => console.log(`CHECK ${JSON.stringify({ check, detail })}`);
const [n0, n1, n2] = lab.nodes as [typeof lab.nodes[0], typeof lab.nodes[0], typeof lab.nodes[0]];
const config = process.argv[2]!;

// Real storage nodes: they listen on and advertise lab addresses, and a client in its own namespace reaches them.
{
  const cluster = await NetCluster.start({ lab, nodes: 3, config, partitions: 16 });
  const client = new DynamoClient(cluster.nodes[0]!.clientUrl);
  await client.put("default", "k", "v");
  const got = await client.get("default", "k", { r: 3 });
  const view = (await (await fetch(`${cluster.nodes[1]!.clientUrl}/v1/cluster`)).json()) as { members: { peerUrl: string }[] };
  report("cluster", { value: got.kind === "value" ? got.value.toString() : got.kind, peerUrls: view.members.map((m) => m.peerUrl) });
  client.close();
  await cluster.destroy();
}

const network = new LabNetwork(lab, 7);
const servers = await Promise.all([n0, n1, n2].map((h) => listener(h, 8081)));
try {
  report("healthy", { n0n1: await probe(n0, n1.address, 8081), clientN2: await probe(lab.client, n2.address, 8081) });

  await network.apply({ cuts: partitionCuts([["n0"], ["n1", "n2"]], "drop"), links: {} });
  report("partition-drop", {
    n0n1: await probe(n0, n1.address, 8081),
    n1n0: await probe(n1, n0.address, 8081),
    n1n2: await probe(n1, n2.address, 8081),
    clientN0: await probe(lab.client, n0.address, 8081),
  });

  await network.apply({ cuts: partitionCuts([["n0"], ["n1"]], "reject"), links: {} });
  report("partition-reject", { n0n1: await probe(n0, n1.address, 8081), n1n0: await probe(n1, n0.address, 8081) });

  await network.apply({ cuts: [{ from: ["n0"], to: ["n1"], mode: "drop", scope: "connect" }], links: {} });
  report("asymmetric", { n0n1: await probe(n0, n1.address, 8081), n1n0: await probe(n1, n0.address, 8081) });

  await network.apply({ cuts: [{ from: ["n0"], to: ["n1"], mode: "drop", scope: "all" }], links: {} });
  report("one-way", { n0n1: await probe(n0, n1.address, 8081), n1n0: await probe(n1, n0.address, 8081), n0n2: await probe(n0, n2.address, 8081) });

  // A bridge node: n2 sees both sides of a partition between n0 and n1.
  await network.apply({ cuts: partitionCuts([["n0"], ["n1"]], "drop"), links: {} });
  report("bridge", { n0n1: await probe(n0, n1.address, 8081), n0n2: await probe(n0, n2.address, 8081), n2n1: await probe(n2, n1.address, 8081) });

  await network.heal();
  const base = await probe(lab.client, n0.address, 8081);
  await network.apply({ cuts: [], links: { n0: { delayMs: 60, jitterMs: 10 } } });
  const delayed = [];
  for (let i = 0; i < 5; i++) delayed.push((await probe(lab.client, n0.address, 8081)).ms);
  const other = await probe(lab.client, n1.address, 8081);
  report("delay", { baseMs: base.ms, delayedMs: delayed, otherMs: other.ms });

  await network.apply({ cuts: [], links: { n0: { loss: 1 } } });
  report("loss", { clientN0: await probe(lab.client, n0.address, 8081) });

  await network.heal();
  report("healed", { clientN0: await probe(lab.client, n0.address, 8081), n0n1: await probe(n0, n1.address, 8081) });

  // A bandwidth cap: 256 KiB from n0 to the client at 2 Mbit/s takes about a second.
  await network.apply({ cuts: [], links: { n0: { rateKbit: 2048 } } });
  const sender = `require("node:net").createServer((s) => s.end(Buffer.alloc(262144))).listen(9000, "${n0.address}", () => console.log("ok"))`;
  const server = spawn("ip", ["netns", "exec", n0.ns, process.execPath, "-e", sender], { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise((r) => server.stdout!.once("data", r));
  const started = performance.now();
  const received = await new Promise<number>((resolve, reject) => {
    let bytes = 0;
    const socket = connect({ host: n0.address, port: 9000 });
    socket.on("data", (d: Buffer) => (bytes += d.length));
    socket.on("end", () => resolve(bytes));
    socket.on("error", reject);
  });
  report("rate", { bytes: received, ms: performance.now() - started });
  server.kill();
  await network.heal();

  // Clock skew: a process under n1's clock reads the wall clock 30 s ahead; the monotonic clock is untouched.
  const clocks = new LabClocks(lab.dir);
  clocks.set("n1", 30_000);
  const env = clocks.env("n1");
  const envArgs = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  const before = Date.now();
  const out = await runIn(n1.ns, ["env", ...envArgs, process.execPath, "-e", "console.log(JSON.stringify({ wall: Date.now(), mono: performance.timeOrigin }))"]);
  report("clock", { offsetMs: (JSON.parse(out) as { wall: number }).wall - before });
} finally {
  for (const s of servers) s.kill();
  await network.close();
}
process.exit(0);

