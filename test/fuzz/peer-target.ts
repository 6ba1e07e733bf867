/**
 * The peer protocol's fuzz target: random and mutated frames, and bad upgrades, against the peer port of real node
 * processes, sent the way an insider with the cluster's certificate and token could send them (the port's outer
 * defences, TLS and the token, are tested elsewhere; this is about what lies behind them).
 *
 * Each round draws a batch of attacks from fast-check arbitraries seeded from the campaign's seed, so a seed replays
 * the same campaign. Attacks: frames of every op with headers built from valid and invalid fields, random JSON,
 * random bodies and mutations of valid records; frames with bit flips and truncations; raw garbage after the upgrade;
 * and upgrades with the wrong path, protocol, token or no HTTP at all. Meanwhile a reader checks the client port.
 *
 * Properties checked: every node process stays alive; every well-framed request gets exactly one reply (an error
 * frame for what does not fit); the client port answers nothing 5xx but 503; a set of sentinel keys keeps its values;
 * each node's RSS stays within a bound. Messages that could legitimately take a cluster apart (a valid ring pushed
 * with `ring-put`) are never generated: the port trusts its authenticated callers with that, by design.
 */
import fc from "fast-check";
import { readFileSync } from "node:fs";
import { connect as tlsConnect } from "node:tls";
import { FRAME_ERROR, FRAME_OK, FRAME_REQUEST, PEER_OPS } from "../../node/protocol/index.js";
import type { ClientTlsOptions } from "../../node/tls/index.js";
import { encodeRecord, update } from "../../node/versioning/index.js";
import { http, kvUrl } from "../helpers/http.js";
import { RawPeerConnection } from "../helpers/peer-wire.js";

export interface PeerFuzzTarget {
  peerUrls: string[];
  clientUrls: string[];
  pids: number[];
  token: string;
  tls: ClientTlsOptions;
}

export interface FuzzReport {
  target: string;
  seed: number;
  rounds: number;
  requests: number;
  replies: { ok: number; error: number };
  clientChecks: number;
  findings: string[];
  rssBytes: { before: number[]; after: number[] };
}

export interface PeerFuzzOptions {
  seed: number;
  seconds: number;
  /** Frames per round (one connection per round). */
  batch?: number;
  /** How much each node's RSS may grow over the campaign. */
  rssGrowthMaxBytes?: number;
  log: (line: string) => void;
}

const CHUNK = 100;
const SENTINELS = Array.from({ length: 8 }, (_, i) => [`sentinel-${i}`, `value-${i}-${"s".repeat(i * 10)}`] as const);
const OPS = Object.keys(PEER_OPS);

type Attack = { kind: "frames"; frames: { header: string; body: Buffer; kind: number }[] } | { kind: "garbage"; bytes: Buffer } | { kind: "upgrade"; raw: string };

const base64Key = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 40 }).map((b) => Buffer.from(b).toString("base64")),
  fc.constant(Buffer.from("fuzz-key").toString("base64")),
  fc.string({ maxLength: 20 }),
  fc.constant(""),
);
const fieldValue = fc.oneof(
  fc.integer({ min: -5, max: 70_000 }),
  fc.constantFrom(0, 1, 31, 65535, 65536, -1, 1.5, Number.MAX_SAFE_INTEGER),
  fc.boolean(),
  fc.constant(null),
  fc.string({ maxLength: 30 }),
  fc.constantFrom("default", "fuzz", "Upper", "", "__proto__", "constructor"),
  base64Key,
  fc.array(fc.integer({ min: -2, max: 2000 }), { maxLength: 20 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(fc.integer(), fc.tuple(fc.nat(), fc.nat()), fc.string({ maxLength: 5 })), { maxKeys: 5 }),
  fc.jsonValue({ maxDepth: 2 }),
);
const fieldName = fc.constantFrom(
  "partition", "bucket", "key", "hintFor", "limit", "after", "context", "contentType", "delete", "w", "pw", "epoch", "ringHash", "heartbeats", "segments",
  "__proto__", "constructor", "op",
);
const opName = fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...OPS) }, { weight: 1, arbitrary: fc.string({ maxLength: 12 }) }, { weight: 1, arbitrary: fc.constantFrom("__proto__", "toString", "hasOwnProperty") });

/** A record that decodes, for bodies, written to keys no sentinel uses. */
function validRecord(value: Uint8Array): Buffer {
  return encodeRecord(update(undefined, {}, { value: Buffer.from(value), contentType: "application/fuzz", timestamp: { ms: 1, logical: 0 } }, "fuzz-actor"));
}

const body = fc.oneof(
  { weight: 3, arbitrary: fc.constant(Buffer.alloc(0)) },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)) },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 200 }).map(validRecord) },
  {
    weight: 2,
    arbitrary: fc.tuple(fc.uint8Array({ maxLength: 100 }), fc.nat(), fc.integer({ min: 0, max: 255 })).map(([v, at, flip]) => {
      const record = validRecord(v);
      record[at % record.length]! ^= flip;
      return record;
    }),
  },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((j) => Buffer.from(JSON.stringify(j) ?? "")) },
);

const partition = fc.integer({ min: 0, max: 31 });
const fuzzKey = fc.string({ minLength: 1, maxLength: 16 }).map((k) => Buffer.from(`fuzz-${k}`).toString("base64"));
const validBucket = fc.constantFrom("default", "fuzz");
/** Headers that fit their op's schema, so the handlers behind the validation are exercised too. */
const wellFormed = fc.oneof(
  fc.record({ op: fc.constant("fetch"), partition, bucket: validBucket, key: fuzzKey }),
  fc.record({ op: fc.constant("replicate"), partition, bucket: validBucket, key: fuzzKey }),
  fc.record({ op: fc.constant("scan"), partition, limit: fc.integer({ min: 1, max: 4096 }) }),
  fc.record({ op: fc.constant("ae-leaves"), partition }),
  fc.record({ op: fc.constant("ae-keys"), partition, segments: fc.array(fc.integer({ min: 0, max: 1023 }), { maxLength: 50 }) }),
  fc.record({ op: fc.constant("ae-invalidate"), partition }),
  fc.record({ op: fc.constant("ring-get") }),
  fc.record({ op: fc.constant("gossip"), epoch: fc.nat(), ringHash: fc.string({ unit: fc.constantFrom(..."0123456789abcdef"), maxLength: 64 }), heartbeats: fc.dictionary(fc.constantFrom("node-0", "node-1", "node-2", "ghost"), fc.tuple(fc.nat(), fc.nat())) }),
  fc.record({
    op: fc.constant("coordinate"),
    bucket: validBucket,
    key: fuzzKey,
    context: fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), fc.integer({ min: 1, max: 1000 }), { maxKeys: 3 }),
    contentType: fc.string({ maxLength: 20 }),
    delete: fc.boolean(),
    w: fc.integer({ min: 1, max: 3 }),
    pw: fc.integer({ min: 0, max: 3 }),
  }),
);

/** A header: an op with fields drawn from valid and invalid values, or something that is not an object at all. */
const header = fc.oneof(
  { weight: 6, arbitrary: wellFormed.map((h) => JSON.stringify(h)) },
  { weight: 8, arbitrary: fc.tuple(opName, fc.dictionary(fieldName, fieldValue, { maxKeys: 8 })).map(([op, fields]) => JSON.stringify({ ...fields, op })) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((j) => JSON.stringify(j) ?? "null") },
  { weight: 1, arbitrary: fc.constantFrom("null", "[]", "{", '"fetch"', "", "{}", '{"op":null}') },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
);

const frame = fc.record({ header, body, kind: fc.oneof({ weight: 9, arbitrary: fc.constant(FRAME_REQUEST) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) }) });

const attack: fc.Arbitrary<Attack> = fc.oneof(
  { weight: 8, arbitrary: fc.array(frame, { minLength: 1, maxLength: 40 }).map((frames) => ({ kind: "frames" as const, frames })) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 400 }).map((b) => ({ kind: "garbage" as const, bytes: Buffer.from(b) })) },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom(
        "GET /v1/peer/stream HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: dynamo-peer/1\r\nAuthorization: Bearer TOKEN\r\n\r\n",
        "GET /v1/peer/stream HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: dynamo-peer/2\r\n\r\n",
        "GET /v1/peer/stream HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: dynamo-peer/2\r\nAuthorization: Bearer wrong-wrong-wrong-wrong\r\n\r\n",
        "GET /elsewhere HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: dynamo-peer/2\r\nAuthorization: Bearer TOKEN\r\n\r\n",
        "POST /v1/admin/ring HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer TOKEN\r\nContent-Length: 5\r\n\r\n{\"a\":",
        "\x16\x03\x01garbage\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
      )
      .map((raw) => ({ kind: "upgrade" as const, raw })),
  },
);

function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Writes the sentinel keys; the campaign checks they still read back unchanged. */
export async function writeSentinels(clientUrl: string): Promise<void> {
  for (const [key, value] of SENTINELS) {
    const reply = await http("PUT", kvUrl(clientUrl, "default", key), { body: value });
    if (reply.status !== 204) throw new Error(`could not write sentinel ${key}: ${reply.status} ${reply.text()}`);
  }
}

async function checkSentinels(clientUrls: string[], findings: string[], strict: boolean): Promise<number> {
  let checks = 0;
  for (const [i, [key, value]] of SENTINELS.entries()) {
    const reply = await http("GET", kvUrl(clientUrls[i % clientUrls.length]!, "default", key)).catch((err: Error) => ({ status: 0, text: () => err.message }));
    checks += 1;
    if (reply.status === 200 && reply.text() === value) continue;
    if (reply.status === 503 && !strict) continue;
    findings.push(`sentinel ${key} read ${reply.status}: ${reply.text().slice(0, 200)}`);
  }
  return checks;
}

async function sendFrames(target: PeerFuzzTarget, peerUrl: string, frames: { header: string; body: Buffer; kind: number }[], counts: FuzzReport["replies"], findings: string[]): Promise<number> {
  const conn = await RawPeerConnection.open(peerUrl, target.token, target.tls, "fuzzer");
  try {
    frames.forEach((f, i) => conn.sendRaw(i + 1, f.kind, f.header, f.body));
    for (let i = 0; i < frames.length; i++) {
      const reply = await conn.reply(i + 1, 10_000);
      if (!reply) {
        findings.push(`no reply to frame ${i + 1} (${frames[i]!.header.slice(0, 120)}) on ${peerUrl}${conn.closed ? ": connection closed" : ""}`);
        return frames.length;
      }
      if (reply.kind === FRAME_OK) counts.ok += 1;
      else if (reply.kind === FRAME_ERROR) counts.error += 1;
      else findings.push(`reply of kind ${reply.kind} to frame ${i + 1}`);
    }
    return frames.length;
  } finally {
    conn.close();
  }
}

/** Sends raw bytes on a TLS connection (bad upgrades, garbage) and waits for the node to answer or close. */
function sendRaw(target: PeerFuzzTarget, peerUrl: string, bytes: Buffer | string): Promise<void> {
  const url = new URL(peerUrl);
  return new Promise((resolve) => {
    const socket = tlsConnect({ host: url.hostname, port: Number(url.port), ...target.tls });
    const done = () => {
      socket.destroy();
      resolve();
    };
    socket.on("secureConnect", () => socket.write(bytes));
    socket.on("data", () => socket.end());
    socket.on("close", done);
    socket.on("error", done);
    socket.setTimeout(3000, done);
  });
}

/** Garbage after a proper upgrade: the node must close the stream (or answer what it can), and live on. */
async function sendAfterUpgrade(target: PeerFuzzTarget, peerUrl: string, bytes: Buffer): Promise<void> {
  const conn = await RawPeerConnection.open(peerUrl, target.token, target.tls, "fuzzer");
  conn.socket.write(bytes);
  await conn.reply(0xffffffff, 300);
  conn.close();
}

export async function runPeerFuzz(target: PeerFuzzTarget, options: PeerFuzzOptions): Promise<FuzzReport> {
  const findings: string[] = [];
  const replies = { ok: 0, error: 0 };
  const before = target.pids.map(rssOf);
  const deadline = Date.now() + options.seconds * 1000;
  let requests = 0;
  let rounds = 0;
  let clientChecks = 0;
  // The client port is read all along: nothing but 503 may fail, and sentinels keep their values.
  let stop = false;
  const reader = (async () => {
    while (!stop) {
      clientChecks += await checkSentinels(target.clientUrls, findings, false);
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  // Attacks are drawn in chunks, the n-th from seed + n, so a seed replays the same sequence however long the run.
  let chunk: Attack[] = [];
  try {
    while (Date.now() < deadline && findings.length === 0) {
      if (rounds % CHUNK === 0) chunk = fc.sample(attack, { seed: options.seed + rounds / CHUNK, numRuns: CHUNK });
      const item = chunk[rounds % CHUNK]!;
      const peerUrl = target.peerUrls[rounds % target.peerUrls.length]!;
      rounds += 1;
      if (item.kind === "frames") requests += await sendFrames(target, peerUrl, item.frames, replies, findings);
      else if (item.kind === "garbage") {
        await sendAfterUpgrade(target, peerUrl, item.bytes);
        requests += 1;
      } else {
        await sendRaw(target, peerUrl, item.raw.replace("TOKEN", target.token));
        requests += 1;
      }
      const dead = target.pids.filter((pid) => !alive(pid));
      if (dead.length > 0) findings.push(`node processes ${dead.join(", ")} died after round ${rounds}`);
      if (rounds % 50 === 0) options.log(`  round ${rounds}: ${requests} requests, ${replies.ok} ok, ${replies.error} error replies`);
    }
  } finally {
    stop = true;
    await reader;
  }
  const after = target.pids.filter(alive).map(rssOf);
  clientChecks += await checkSentinels(target.clientUrls, findings, true);
  const growthMax = options.rssGrowthMaxBytes ?? 256 * 1024 * 1024;
  after.forEach((rss, i) => {
    if (rss - (before[i] ?? 0) > growthMax) findings.push(`node ${i} RSS grew from ${before[i]} to ${rss} bytes`);
  });
  return { target: "peer", seed: options.seed, rounds, requests, replies, clientChecks, findings, rssBytes: { before, after } };
}
