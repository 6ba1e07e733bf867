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
 * Properties checked here: every well-framed request gets exactly one reply (an error frame for what does not fit);
 * the harness (./harness.ts) checks the rest: nodes alive, sentinel keys unchanged, bounded RSS. Messages that could
 * legitimately take a cluster apart (a valid ring pushed with `ring-put`) are never generated: the port trusts its
 * authenticated callers with that, by design.
 */
import fc from "fast-check";
import { connect as tlsConnect } from "node:tls";
import { encodeRequestHeader, FRAME_ERROR, FRAME_OK, FRAME_REQUEST, PEER_OPS } from "../../node/protocol/index.js";
import { encodeRecord, update } from "../../node/versioning/index.js";
import { RawPeerConnection } from "../helpers/peer-wire.js";
import type { AttackOutcome, FuzzCluster, FuzzTarget } from "./harness.js";

const OPS = Object.keys(PEER_OPS);

type FuzzFrame = { header: string | Buffer; body: Buffer; kind: number };
type Attack = { kind: "frames"; frames: FuzzFrame[] } | { kind: "garbage"; bytes: Buffer } | { kind: "upgrade"; raw: string };

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

/**
 * Compact binary headers (fetch, replicate, coordinate), well-formed from the fields above or with a byte flipped, cut
 * short or followed by more: the server tells them from JSON by their first byte, whatever the connection agreed.
 */
const rawKey = fc.string({ minLength: 1, maxLength: 16 }).map((k) => Buffer.from(`fuzz-${k}`));
const compactHeader = fc
  .oneof(
    fc.record({ partition, bucket: validBucket, key: rawKey }).map((h) => encodeRequestHeader("fetch", h, true) as Buffer),
    fc.record({ partition, bucket: validBucket, key: rawKey }).map((h) => encodeRequestHeader("replicate", h, true) as Buffer),
    fc
      .record({
        bucket: validBucket,
        key: rawKey,
        context: fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }).filter((a) => a !== "__proto__"), fc.integer({ min: 1, max: 1000 }), { maxKeys: 3 }),
        contentType: fc.string({ maxLength: 20 }),
        delete: fc.boolean(),
        w: fc.integer({ min: 1, max: 3 }),
        pw: fc.integer({ min: 0, max: 3 }),
      })
      .map((h) => encodeRequestHeader("coordinate", h, true) as Buffer),
  )
  .chain((good) =>
    fc.oneof(
      fc.constant(good),
      fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })).map(([at, flip]) => {
        const bad = Buffer.from(good);
        bad[at % bad.length]! ^= flip;
        return bad;
      }),
      fc.nat().map((cut) => good.subarray(0, cut % good.length)),
      fc.uint8Array({ minLength: 1, maxLength: 20 }).map((more) => Buffer.concat([good, more])),
    ),
  );

/** A header: an op with fields drawn from valid and invalid values, or something that is not an object at all. */
const header: fc.Arbitrary<string | Buffer> = fc.oneof(
  { weight: 3, arbitrary: compactHeader as fc.Arbitrary<string | Buffer> },
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

/** Frames on one upgraded connection; every well-framed request must get exactly one reply, OK or error. */
async function sendFrames(cluster: FuzzCluster, peerUrl: string, frames: FuzzFrame[]): Promise<AttackOutcome> {
  const counts = { ok: 0, error: 0 };
  const findings: string[] = [];
  const conn = await RawPeerConnection.open(peerUrl, cluster.token, cluster.peerTls, "fuzzer");
  try {
    frames.forEach((f, i) => conn.sendRaw(i + 1, f.kind, f.header, f.body));
    for (let i = 0; i < frames.length; i++) {
      const reply = await conn.reply(i + 1, 10_000);
      if (!reply) {
        findings.push(`no reply to frame ${i + 1} (${describeHeader(frames[i]!.header, 120)}) on ${peerUrl}${conn.closed ? ": connection closed" : ""}`);
        break;
      }
      if (reply.kind === FRAME_OK) counts.ok += 1;
      else if (reply.kind === FRAME_ERROR) counts.error += 1;
      else findings.push(`reply of kind ${reply.kind} to frame ${i + 1}`);
    }
    return { requests: frames.length, findings, counts };
  } finally {
    conn.close();
  }
}

/** Sends raw bytes on a TLS connection (bad upgrades, garbage) and waits for the node to answer or close. */
function sendRaw(cluster: FuzzCluster, peerUrl: string, bytes: Buffer | string): Promise<void> {
  const url = new URL(peerUrl);
  return new Promise((resolve) => {
    const socket = tlsConnect({ host: url.hostname, port: Number(url.port), ...cluster.peerTls });
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
async function sendAfterUpgrade(cluster: FuzzCluster, peerUrl: string, bytes: Buffer): Promise<void> {
  const conn = await RawPeerConnection.open(peerUrl, cluster.token, cluster.peerTls, "fuzzer");
  conn.socket.write(bytes);
  await conn.reply(0xffffffff, 300);
  conn.close();
}

export const peerTarget: FuzzTarget<Attack> = {
  name: "peer",
  attack,
  describe(a) {
    if (a.kind === "frames") return `${a.frames.length} frames, the first ${JSON.stringify(describeHeader(a.frames[0]!.header, 80))}`;
    if (a.kind === "garbage") return `${a.bytes.length} bytes of garbage after the upgrade`;
    return `raw ${JSON.stringify(a.raw.slice(0, 60))}`;
  },
  async execute(a, cluster, round) {
    const peerUrl = cluster.peerUrls[round % cluster.peerUrls.length]!;
    if (a.kind === "frames") return sendFrames(cluster, peerUrl, a.frames);
    if (a.kind === "garbage") await sendAfterUpgrade(cluster, peerUrl, a.bytes);
    else await sendRaw(cluster, peerUrl, a.raw.replace("TOKEN", cluster.token));
    return { requests: 1, findings: [] };
  },
};

function describeHeader(header: string | Buffer, length: number): string {
  return Buffer.isBuffer(header) ? `compact ${header.toString("hex").slice(0, length)}` : header.slice(0, length);
}
