/**
 * `npm run bench:link`: the CPU one peer request costs, both ends together, on the real peer link
 * (mutual TLS over loopback, the real PeerClient and PeerServer) with the handlers answering from memory, so nothing
 * but the link is measured. Each measurement is a fresh child process holding the server in a worker thread (an event
 * loop of its own, as on another node) and the client on its main thread, `--concurrency` requests in flight; it
 * reports its CPU time (user + system, both threads and the TLS work included) per request.
 *
 * `--trees A,B` compares builds: each child loads the compiled `dist/` of one tree (`npm run build` there first), and
 * the trees take turns within every round, in an order that alternates, so the machine's drift (the same build's CPU
 * per operation moved by half between runs minutes apart here) falls on each alike. The report gives each tree's
 * median CPU per request and, what to read, the median of its ratio to the first tree measured in the same round.
 *
 * Flags: --trees A,B (default: this tree) --rounds R (8) --requests N (per measurement, 20000) --concurrency C (16)
 * --op fetch|replicate (fetch) --peer-tls on|off|on,off (on; both measures each tree with and without TLS)
 */
import { fork } from "node:child_process";
import { once } from "node:events";
import { resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { BenchCommandLine } from "./flags.js";
import { median } from "./stats.js";

interface ChildResult {
  cpuUsPerRequest: number;
  requestsPerSecond: number;
}

interface ServerData {
  tree: string;
  tls: { cert: string; key: string; ca: string } | undefined;
  token: string;
}

const WARMUP_REQUESTS = 3000;
const TOKEN = "bench-link-token-0123456789";

/**
 * A module of a tree's build. Its shape is taken to be this tree's: the trees compared differ in how, not in what,
 * and a mismatch fails at the first call.
 */
async function load<T>(tree: string, module: string): Promise<T> {
  return (await import(pathToFileURL(resolve(tree, "dist", module)).href)) as T;
}

/** A record of a 1 KiB value, as a replica would hold it. */
async function sampleRecord(tree: string) {
  const { update } = await load<typeof import("../node/versioning/index.js")>(tree, "node/versioning/index.js");
  return update(undefined, {}, { value: Buffer.alloc(1024, 97), contentType: "application/octet-stream", timestamp: { ms: Date.now(), logical: 0 } }, "benchactor000001");
}

/**
 * The worker thread, as plain JavaScript (a worker does not inherit the TypeScript loader): a peer server of the
 * tree's build whose fetch and replicate answer from memory.
 */
const SERVER_SOURCE = `
const { workerData, parentPort } = require("node:worker_threads");
const { once } = require("node:events");
(async () => {
  const { tree, tls, token } = workerData;
  const { PeerServer } = await import(tree + "/dist/node/peer/index.js");
  const { update } = await import(tree + "/dist/node/versioning/index.js");
  const record = update(undefined, {}, { value: Buffer.alloc(1024, 97), contentType: "application/octet-stream", timestamp: { ms: Date.now(), logical: 0 } }, "benchactor000001");
  const refuse = async () => { throw new Error("not used by this benchmark"); };
  const own = { fetch: async () => ({ header: { canVote: true }, body: record }), replicate: async () => ({ header: { changed: true } }) };
  const handlers = new Proxy(own, { get: (target, name) => target[name] ?? refuse });
  const peer = new PeerServer({ token, inFlightMax: 1024, log: () => undefined }, handlers);
  const server = tls ? require("node:https").createServer({ ...tls, requestCert: true, rejectUnauthorized: true }) : require("node:http").createServer();
  peer.attach(server);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  parentPort.postMessage(server.address().port);
})();
`;

/** One measurement: this process's CPU per request over `requests` requests after a warm-up. */
async function measure(tree: string, requests: number, concurrency: number, op: string, peerTls: boolean): Promise<ChildResult> {
  let tls: ServerData["tls"];
  if (peerTls) {
    const { createCa, issueCertificate } = await load<typeof import("../node/pki/index.js")>(tree, "node/pki/index.js");
    const ca = await createCa({ commonName: "bench:link CA" });
    const leaf = await issueCertificate(ca, { commonName: "node", hosts: ["127.0.0.1"] });
    tls = { cert: leaf.cert, key: leaf.key, ca: ca.cert };
  }
  const worker = new Worker(SERVER_SOURCE, { eval: true, workerData: { tree, tls, token: TOKEN } satisfies ServerData });
  const [port] = (await once(worker, "message")) as [number];
  const { PeerClient } = await load<typeof import("../node/peer/index.js")>(tree, "node/peer/index.js");
  const client = new PeerClient(`${tls ? "https" : "http"}://127.0.0.1:${port}`, {
    token: TOKEN,
    timeoutMs: 10_000,
    inFlightMax: 1024,
    reconnectDelayMs: 100,
    from: "bench",
    tls: tls ? () => ({ ...tls, rejectUnauthorized: true, checkServerIdentity: () => undefined }) : undefined,
  });
  const record = await sampleRecord(tree);
  const key = Buffer.from("user-0000001");
  const call = () =>
    op === "fetch"
      ? client.call("fetch", { header: { partition: 7, bucket: "default", key } })
      : client.call("replicate", { header: { partition: 7, bucket: "default", key }, body: record });
  const run = async (count: number) => {
    let left = count;
    const lane = async () => {
      while (left > 0) {
        left -= 1;
        await call();
      }
    };
    await Promise.all(Array.from({ length: concurrency }, lane));
  };
  await run(WARMUP_REQUESTS);
  const cpu = process.cpuUsage();
  const started = performance.now();
  await run(requests);
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  client.close();
  await worker.terminate();
  return { cpuUsPerRequest: (used.user + used.system) / requests, requestsPerSecond: requests / seconds };
}

/** One setup measured: a tree's build, with or without peer TLS. */
interface Variant {
  tree: string;
  peerTls: boolean;
  name: string;
}

const USAGE = `usage: npm run bench:link -- [flags]
  --trees A,B           builds to compare, each a tree with dist/ built; they take turns every round  [.]
  --rounds R            rounds of one measurement per build and TLS setting                          [8]
  --requests N          requests per measurement                                                     [20000]
  --concurrency C       requests in flight, 1 to 1024                                                [16]
  --op fetch|replicate  the peer operation measured                                                  [fetch]
  --peer-tls on|off     mutual TLS on the link; on,off measures each build both ways                 [on]`;

async function main(): Promise<void> {
  const commandLine = new BenchCommandLine("bench:link", USAGE, {
    trees: { type: "string", default: "." },
    rounds: { type: "string" },
    requests: { type: "string" },
    concurrency: { type: "string" },
    op: { type: "string", default: "fetch" },
    "peer-tls": { type: "string", default: "on" },
    child: { type: "string" },
  });
  const flags = commandLine.values;
  const requests = commandLine.number(flags.requests, "requests", 20_000, 1);
  const concurrency = commandLine.number(flags.concurrency, "concurrency", 16, 1);
  const rounds = commandLine.number(flags.rounds, "rounds", 8, 1);
  const tlsSettings = flags["peer-tls"].split(",");
  commandLine.checked(() => {
    if (concurrency > 1024) throw new Error(`--concurrency must be an integer from 1 to 1024, got '${flags.concurrency}'`);
    if (flags.op !== "fetch" && flags.op !== "replicate") throw new Error(`--op must be fetch or replicate, got '${flags.op}'`);
    if (tlsSettings.some((t) => t !== "on" && t !== "off")) throw new Error(`--peer-tls must be on, off or both (on,off), got '${flags["peer-tls"]}'`);
  });

  if (flags.child !== undefined) {
    const result = await measure(flags.child, requests, concurrency, flags.op, tlsSettings[0] === "on");
    process.send!(result);
    return;
  }

  const trees = flags.trees.split(",").map((t) => resolve(t));
  const variants: Variant[] = trees.flatMap((tree) =>
    tlsSettings.map((tls) => ({ tree, peerTls: tls === "on", name: `${tree}${tlsSettings.length > 1 ? ` (TLS ${tls})` : ""}` })),
  );
  process.stdout.write(`peer link CPU per request: ${flags.op}, ${concurrency} in flight, ${requests} requests per measurement, peer TLS ${flags["peer-tls"]}, ${rounds} rounds\n`);
  const results = new Map<Variant, number[]>(variants.map((v) => [v, []]));
  const ratios = new Map<Variant, number[]>(variants.map((v) => [v, []]));
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? variants : [...variants].reverse();
    const row = new Map<Variant, ChildResult>();
    for (const variant of order) {
      const args = ["--child", variant.tree, "--requests", String(requests), "--concurrency", String(concurrency), "--op", flags.op, "--peer-tls", variant.peerTls ? "on" : "off"];
      const child = fork(fileURLToPath(import.meta.url), args, { execArgv: ["--import", "tsx"] });
      const exited = once(child, "exit");
      const [message] = (await Promise.race([once(child, "message"), exited.then(([code]) => Promise.reject(new Error(`a measurement of ${variant.name} exited with code ${String(code)}`)))])) as [ChildResult];
      await exited;
      row.set(variant, message);
      results.get(variant)!.push(message.cpuUsPerRequest);
    }
    const first = row.get(variants[0]!)!.cpuUsPerRequest;
    for (const v of variants) ratios.get(v)!.push(row.get(v)!.cpuUsPerRequest / first);
    const cells = variants.map((v) => {
      const r = row.get(v)!;
      return `${v.name} ${r.cpuUsPerRequest.toFixed(1)} µs (${Math.round(r.requestsPerSecond)}/s, ${(r.cpuUsPerRequest / first).toFixed(3)}x)`;
    });
    process.stdout.write(`  round ${round + 1}: ${cells.join("; ")}\n`);
  }
  for (const v of variants) {
    const r = ratios.get(v)!;
    process.stdout.write(
      `${v.name}: median ${median(results.get(v)!).toFixed(1)} µs CPU per request; against the first in the same round: median ${median(r).toFixed(3)}x, ${Math.min(...r).toFixed(3)}-${Math.max(...r).toFixed(3)}x\n`,
    );
  }
}

main().catch((err: Error) => {
  process.stderr.write(`bench:link: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
