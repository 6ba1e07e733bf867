/**
 * The client API's fuzz target: HTTP/1.1 on a bare socket to a node's client port, the way any client on the network
 * can send it. Each attack is one connection carrying either a pipeline of one to four requests built from valid and
 * invalid parts (methods, paths with odd buckets, keys and percent-encodings, query strings, headers among them real,
 * foreign and altered contexts, bodies framed by Content-Length, by chunks, or wrongly), or raw bytes (noise, or a
 * well-formed request with bits flipped, bytes spliced in or cut off). The bytes go out in one to three pieces; then
 * the client ends its side, as a client that has said everything does, and the node must answer what it can and
 * close within a bound.
 *
 * Checked for every answer: it parses as HTTP; no status is 5xx but 503; every error is the API's JSON
 * `{"error", "message"}` with a known code. The harness adds: nodes alive, sentinel keys unchanged, bounded RSS.
 * Writes go only to keys under `fuzz-` (and a handful of odd names), never to the sentinels.
 */
import fc from "fast-check";
import { RawConnection, splitResponses, type RawResponse } from "../helpers/raw-http.js";
import { clientHttp, type FuzzCluster, type FuzzTarget } from "./harness.js";
import { kvUrl } from "../helpers/http.js";

/** How long to wait for the answers before ending the client's side: the fuzz config's deadlines, with room. */
const ANSWERS_WITHIN_MS = 5000;
/** A node that answers nothing and keeps the connection this long after the client finished is hung. */
const CLOSE_WITHIN_MS = 10_000;

/** Error codes the API may answer with (DESIGN.md §2 and node/errors). */
const ERROR_CODES = new Set([
  "invalid_request",
  "not_found",
  "unknown_bucket",
  "value_too_large",
  "too_many_siblings",
  "unauthorized",
  "forbidden",
  "request_timeout",
  "unavailable",
  "not_ready",
]);

/** Keys written by `prepare`, whose contexts attacks send back whole, altered, or on another key. */
const CONTEXT_KEYS = ["fuzz-ctx-0", "fuzz-ctx-1", "fuzz-ctx-2"];

type Body =
  | { kind: "none" }
  | { kind: "sized"; bytes: Buffer; declared: number }
  | { kind: "chunked"; chunks: Buffer[]; sizeLine?: string; unterminated: boolean };

interface RequestSpec {
  method: string;
  target: string;
  headers: Array<[string, string]>;
  body: Body;
  /** Leave out the Authorization a cluster with client tokens would otherwise get. */
  anonymous: boolean;
}

type ClientAttack =
  | { kind: "requests"; requests: RequestSpec[]; pieces: number; slowMs: number }
  | { kind: "mutated"; request: RequestSpec; mutations: Array<{ at: number; op: "flip" | "insert" | "cut"; bytes: Uint8Array }> }
  | { kind: "noise"; bytes: Uint8Array };

const hex = (b: number) => `%${b.toString(16).toUpperCase().padStart(2, "0")}`;

const bucketPart = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom("default", "fuzz", "single") },
  { weight: 1, arbitrary: fc.stringMatching(/^[a-z0-9][a-z0-9_-]{0,10}$/) },
  { weight: 1, arbitrary: fc.constantFrom("", "Default", "%64efault", "de%00fault", "a".repeat(64), "-x", "a.b", "%", "%zz", "..", "%2F") },
);

const keyPart = fc.oneof(
  { weight: 5, arbitrary: fc.string({ maxLength: 24, unit: "grapheme" }).map((k) => `fuzz-${encodeURIComponent(k)}`) },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 24 }).map((b) => `fuzz-${[...b].map(hex).join("")}`) },
  { weight: 1, arbitrary: fc.constantFrom(...CONTEXT_KEYS) },
  {
    weight: 1,
    arbitrary: fc.constantFrom("", "%", "%zz", "%C3", "%FF%FE", "..", ".", "fuzz-a/b/c", "fuzz-%2F%2F", "fuzz-é", "fuzz-\u{1F642}", "k".repeat(1025), "k".repeat(1024), "fuzz-?x", "fuzz-#f"),
  },
);

const queryPart = fc.oneof(
  { weight: 4, arbitrary: fc.constant("") },
  {
    weight: 3,
    arbitrary: fc
      .array(fc.tuple(fc.constantFrom("r", "w", "pr", "pw", "n", "R", "r[]", ""), fc.constantFrom("0", "1", "2", "3", "4", "-1", "", "abc", "1.5", "99999999999999999999", "%00", "1e3")), {
        minLength: 1,
        maxLength: 4,
      })
      .map((pairs) => "?" + pairs.map(([n, v]) => `${n}=${v}`).join("&")),
  },
  { weight: 1, arbitrary: fc.constantFrom("?", "?&&", "?r", "?r=1&r=2", "?%zz=1") },
);

const requestTarget = fc.oneof(
  { weight: 8, arbitrary: fc.tuple(bucketPart, keyPart, queryPart).map(([b, k, q]) => `/v1/kv/${b}/${k}${q}`) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      "/", "/v1/cluster", "/v1/node", "/healthz", "/readyz", "/metrics", "/ui", "/ui/", "/ui/console.js", "/ui/api/overview", "/v1/kv", "/v1/kv/",
      "/v1/kv/default", "//v1/kv/default/fuzz-k", "/v1/kv/default/fuzz-k/../../x", "*", "http://localhost/v1/kv/default/fuzz-abs", "/v1/KV/default/k",
      "/healthz?x=1", "/%", "/v1/kv/default/fuzz-k%", "/v1/kv/\u00e9/k",
    ),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }).map((s) => "/" + s.replace(/[\s]/g, "")) },
);

const method = fc.oneof(
  { weight: 10, arbitrary: fc.constantFrom("GET", "PUT", "DELETE") },
  { weight: 2, arbitrary: fc.constantFrom("POST", "HEAD", "OPTIONS", "PATCH", "TRACE", "PROPFIND", "get", "G ET", "") },
);

const contextValue = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0, max: CONTEXT_KEYS.length - 1 }).map((i) => `$CTX${i}`) },
  { weight: 2, arbitrary: fc.tuple(fc.integer({ min: 0, max: CONTEXT_KEYS.length - 1 }), fc.nat()).map(([i, at]) => `$ALTERED${i}:${at}`) },
  { weight: 1, arbitrary: fc.constantFrom("", "garbage", "!!!", "a".repeat(9000), "e30", "AAAA") },
  { weight: 1, arbitrary: fc.base64String({ maxLength: 200 }) },
);

const header: fc.Arbitrary<[string, string]> = fc.oneof(
  { weight: 4, arbitrary: contextValue.map((v) => ["X-Dynamo-Context", v] as [string, string]) },
  { weight: 3, arbitrary: fc.constantFrom("text/plain", "application/json", "application/octet-stream", "text/html; charset=utf-8", "", "x/\u00ff").map((v) => ["Content-Type", v] as [string, string]) },
  {
    weight: 2,
    arbitrary: fc
      .constantFrom(
        ["Expect", "100-continue"], ["Expect", "200-ok"], ["Connection", "close"], ["Connection", "keep-alive"], ["Connection", "Upgrade"],
        ["Upgrade", "websocket"], ["Upgrade", "h2c"], ["Transfer-Encoding", "gzip"], ["Transfer-Encoding", "chunked, chunked"],
        ["Content-Length", "-1"], ["Content-Length", "1, 2"], ["Content-Length", "abc"], ["Content-Length", "99999999999999999999"],
        ["Authorization", "Bearer"], ["Authorization", "Bearer dyn_nope"], ["Authorization", "Basic Zm9vOmJhcg=="], ["Host", ""], ["Host", "a b"],
        ["Accept-Encoding", "gzip"], ["Range", "bytes=0-1"], ["If-None-Match", "*"], ["X-Forwarded-For", "1.2.3.4"],
      )
      .map(([n, v]) => [n, v] as [string, string]),
  },
  { weight: 1, arbitrary: fc.tuple(fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,20}$/), fc.string({ maxLength: 40 })).map(([n, v]) => [n, v] as [string, string]) },
  { weight: 1, arbitrary: fc.tuple(fc.string({ maxLength: 10 }), fc.string({ maxLength: 10 })).map(([n, v]) => [n, v] as [string, string]) },
);

const headers = fc.oneof(
  { weight: 20, arbitrary: fc.array(header, { maxLength: 6 }) },
  { weight: 1, arbitrary: fc.integer({ min: 90, max: 160 }).map((n) => Array.from({ length: n }, (_, i) => [`x-junk-${i}`, "1"] as [string, string])) },
);

const bytes = (max: number) => fc.uint8Array({ maxLength: max }).map((b) => Buffer.from(b));

const body: fc.Arbitrary<Body> = fc.oneof(
  { weight: 4, arbitrary: fc.constant({ kind: "none" as const }) },
  { weight: 6, arbitrary: bytes(2000).map((b) => ({ kind: "sized" as const, bytes: b, declared: b.length })) },
  { weight: 1, arbitrary: fc.tuple(bytes(300), fc.integer({ min: -300, max: 300 })).map(([b, d]) => ({ kind: "sized" as const, bytes: b, declared: Math.max(0, b.length + d) })) },
  { weight: 1, arbitrary: fc.constantFrom(1024 * 1024 + 1, 8 * 1024 * 1024, 2 ** 40).map((declared) => ({ kind: "sized" as const, bytes: Buffer.alloc(0), declared })) },
  {
    weight: 2,
    arbitrary: fc
      .record({
        chunks: fc.array(bytes(500), { maxLength: 5 }),
        sizeLine: fc.option(fc.constantFrom("zz", "-1", "fffffffffffffffff", "5;ext=1", " 5", "100000"), { nil: undefined }),
        unterminated: fc.boolean(),
      })
      .map((c) => ({ kind: "chunked" as const, ...c })),
  },
);

const hostileRequest: fc.Arbitrary<RequestSpec> = fc.record({
  method,
  target: requestTarget,
  headers,
  body,
  anonymous: fc.oneof({ weight: 9, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
});

/** What a well-behaved client sends, so the handlers behind the validation run too: reads, writes, deletes, contexts. */
const plausibleRequest: fc.Arbitrary<RequestSpec> = fc
  .record({
    method: fc.constantFrom("GET", "GET", "PUT", "PUT", "DELETE"),
    bucket: fc.constantFrom("default", "fuzz", "single"),
    key: fc.oneof(
      { weight: 3, arbitrary: fc.string({ maxLength: 24, unit: "grapheme" }).map((k) => ({ path: `fuzz-${encodeURIComponent(k)}`, context: undefined as number | undefined })) },
      { weight: 2, arbitrary: fc.integer({ min: 0, max: CONTEXT_KEYS.length - 1 }).map((i) => ({ path: CONTEXT_KEYS[i]!, context: i as number | undefined })) },
    ),
    quorum: fc.option(fc.tuple(fc.constantFrom("r", "w", "pr", "pw"), fc.integer({ min: 0, max: 3 })), { nil: undefined }),
    contentType: fc.option(fc.constantFrom("text/plain", "application/json", "application/octet-stream"), { nil: undefined }),
    value: bytes(1500),
  })
  .map(({ method, bucket, key, quorum, contentType, value }) => {
    const headers: Array<[string, string]> = [];
    if (contentType && method === "PUT") headers.push(["Content-Type", contentType]);
    if (key.context !== undefined && method !== "GET") headers.push(["X-Dynamo-Context", `$CTX${key.context}`]);
    const query = quorum ? `?${quorum[0]}=${quorum[1]}` : "";
    const body: Body = method === "PUT" ? { kind: "sized", bytes: value, declared: value.length } : { kind: "none" };
    return { method, target: `/v1/kv/${bucket}/${key.path}${query}`, headers, body, anonymous: false };
  });

const request = fc.oneof({ weight: 3, arbitrary: plausibleRequest }, { weight: 2, arbitrary: hostileRequest });

const attack: fc.Arbitrary<ClientAttack> = fc.oneof(
  {
    weight: 12,
    arbitrary: fc
      .record({
        requests: fc.array(request, { minLength: 1, maxLength: 4 }),
        pieces: fc.integer({ min: 1, max: 3 }),
        slowMs: fc.oneof({ weight: 30, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constant(1200) }),
      })
      .map((r) => ({ kind: "requests" as const, ...r })),
  },
  {
    weight: 3,
    arbitrary: fc
      .record({
        request,
        mutations: fc.array(fc.record({ at: fc.nat(), op: fc.constantFrom("flip" as const, "insert" as const, "cut" as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }), {
          minLength: 1,
          maxLength: 4,
        }),
      })
      .map((m) => ({ kind: "mutated" as const, ...m })),
  },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 300 }).map((b) => ({ kind: "noise" as const, bytes: b })) },
);

/** Contexts read from the context keys, and what `prepare` found; filled in before the first attack. */
const contexts: string[] = [];

function resolveContext(value: string): string {
  const whole = /^\$CTX(\d)$/.exec(value);
  if (whole) return contexts[Number(whole[1])] ?? "";
  const altered = /^\$ALTERED(\d):(\d+)$/.exec(value);
  if (!altered) return value;
  const context = contexts[Number(altered[1])] ?? "";
  if (context === "") return context;
  const at = Number(altered[2]) % context.length;
  const replacement = context[at] === "A" ? "B" : "A";
  return context.slice(0, at) + replacement + context.slice(at + 1);
}

function serialize(spec: RequestSpec, cluster: FuzzCluster): Buffer {
  const lines = [`${spec.method} ${spec.target} HTTP/1.1`];
  const named = new Set(spec.headers.map(([n]) => n.toLowerCase()));
  if (!named.has("host")) lines.push("Host: fuzz");
  if (cluster.client.token && !spec.anonymous && !named.has("authorization")) lines.push(`Authorization: Bearer ${cluster.client.token}`);
  for (const [name, value] of spec.headers) lines.push(`${name}: ${name.toLowerCase() === "x-dynamo-context" ? resolveContext(value) : value}`);
  let payload: Buffer = Buffer.alloc(0);
  if (spec.body.kind === "sized") {
    if (!named.has("content-length")) lines.push(`Content-Length: ${spec.body.declared}`);
    payload = spec.body.bytes;
  } else if (spec.body.kind === "chunked") {
    if (!named.has("transfer-encoding")) lines.push("Transfer-Encoding: chunked");
    const parts = spec.body.chunks.map((c, i) => Buffer.concat([Buffer.from(`${i === 0 && spec.body.kind === "chunked" && spec.body.sizeLine !== undefined ? spec.body.sizeLine : c.length.toString(16)}\r\n`), c, Buffer.from("\r\n")]));
    payload = Buffer.concat([...parts, Buffer.from(spec.body.unterminated ? "" : "0\r\n\r\n")]);
  }
  return Buffer.concat([Buffer.from(lines.join("\r\n") + "\r\n\r\n", "utf8"), payload]);
}

function mutate(base: Buffer, mutations: Extract<ClientAttack, { kind: "mutated" }>["mutations"]): Buffer {
  let out = base;
  for (const m of mutations) {
    const at = out.length === 0 ? 0 : m.at % out.length;
    if (m.op === "flip") {
      out = Buffer.from(out);
      if (out.length > 0) out[at] = out[at]! ^ (m.bytes[0]! || 1);
    } else if (m.op === "insert") {
      out = Buffer.concat([out.subarray(0, at), Buffer.from(m.bytes), out.subarray(at)]);
    } else {
      out = Buffer.concat([out.subarray(0, at), out.subarray(Math.min(out.length, at + m.bytes.length))]);
    }
  }
  return out;
}

function pieces(data: Buffer, count: number): Buffer[] {
  if (count <= 1 || data.length < count) return [data];
  const size = Math.ceil(data.length / count);
  return Array.from({ length: count }, (_, i) => data.subarray(i * size, (i + 1) * size)).filter((p) => p.length > 0);
}

/**
 * What must hold of every answer: it is HTTP, it is not a 5xx other than 503, and an error is the API's JSON (an
 * answer to HEAD has no body to check).
 */
function checkAnswers(answers: RawResponse[], bodiless: (index: number) => boolean, findings: string[], counts: Record<string, number>): void {
  let finals = 0;
  for (const answer of answers) {
    if (answer.status >= 200) finals += 1;
    const status = answer.status;
    const bucket = status === 503 ? "503" : `${Math.floor(status / 100)}xx`;
    counts[bucket] = (counts[bucket] ?? 0) + 1;
    if (status >= 500 && status !== 503) findings.push(`answered ${status}: ${answer.body.toString("utf8").slice(0, 200)}`);
    if (status < 400 || bodiless(finals - 1)) continue;
    let parsed: { error?: unknown; message?: unknown } | undefined;
    try {
      parsed = answer.json();
    } catch {
      parsed = undefined;
    }
    if (!parsed || typeof parsed.message !== "string" || !ERROR_CODES.has(String(parsed.error))) {
      findings.push(`answered ${status} without the API's JSON error: ${JSON.stringify(answer.body.toString("utf8").slice(0, 200))}`);
    } else if (/\bat .*\.(js|ts):\d+/.test(parsed.message)) {
      findings.push(`answered ${status} with a stack trace: ${parsed.message.slice(0, 200)}`);
    }
  }
}

function describeRequest(spec: RequestSpec): string {
  const body = spec.body.kind === "none" ? "" : spec.body.kind === "sized" ? ` +${spec.body.bytes.length}/${spec.body.declared}B` : ` +chunked(${spec.body.chunks.length})`;
  const names = spec.headers.length > 8 ? `${spec.headers.length} headers` : spec.headers.map(([n]) => n).join(",");
  return `${spec.method} ${JSON.stringify(spec.target.slice(0, 80))} [${names}]${body}`;
}

export const clientTarget: FuzzTarget<ClientAttack> = {
  name: "client",
  attack,
  describe(a) {
    if (a.kind === "requests") return `${a.requests.map(describeRequest).join(" | ")}${a.pieces > 1 ? ` in ${a.pieces} pieces` : ""}${a.slowMs ? " slowly" : ""}`;
    if (a.kind === "mutated") return `mutated (${a.mutations.map((m) => m.op).join(",")}) ${describeRequest(a.request)}`;
    return `${a.bytes.length} random bytes`;
  },

  async prepare(cluster) {
    contexts.length = 0;
    const url = cluster.clientUrls[0]!;
    for (const key of CONTEXT_KEYS) {
      const put = await clientHttp(cluster, "PUT", kvUrl(url, "default", key), "context source");
      const context = put.headers["x-dynamo-context"];
      if (put.status !== 204 || typeof context !== "string") throw new Error(`could not prepare ${key}: ${put.status} ${put.text()}`);
      contexts.push(context);
    }
  },

  async execute(a, cluster, round) {
    const url = cluster.clientUrls[round % cluster.clientUrls.length]!;
    const findings: string[] = [];
    const counts: Record<string, number> = {};
    let data: Buffer;
    let writes: Buffer[];
    let bodiless: ((index: number) => boolean) | undefined;
    if (a.kind === "requests") {
      const serialized = a.requests.map((r) => serialize(r, cluster));
      data = Buffer.concat(serialized);
      writes = pieces(data, a.pieces);
      // A HEAD answer has no body whatever its headers say; only a lone HEAD can be matched to its answer for sure.
      if (a.requests.length === 1 && a.requests[0]!.method === "HEAD") bodiless = () => true;
      else if (a.requests.some((r) => r.method === "HEAD")) bodiless = (i) => a.requests[i]?.method === "HEAD";
    } else if (a.kind === "mutated") {
      data = mutate(serialize(a.request, cluster), a.mutations);
      writes = [data];
    } else {
      data = Buffer.from(a.bytes);
      writes = [data];
    }
    const conn = await RawConnection.open(url, cluster.client.ca).catch((err: Error) => err);
    if (conn instanceof Error) {
      // Refusing a connection is allowed (the connection cap); the harness's reader notices a node that is gone.
      counts["refused"] = 1;
      return { requests: 1, findings, counts };
    }
    try {
      for (const [i, piece] of writes.entries()) {
        if (i > 0) await new Promise((r) => setTimeout(r, 5));
        await conn.write(piece);
      }
      if (a.kind === "requests" && a.slowMs > 0) await new Promise((r) => setTimeout(r, a.slowMs));
      // Answers are awaited before the client ends its side: over TLS, ending it ends the connection both ways.
      const expected = a.kind === "requests" ? a.requests.length : 1;
      const deadline = Date.now() + ANSWERS_WITHIN_MS;
      while (!conn.closed && Date.now() < deadline && splitResponses(conn.received, bodiless).responses.filter((r) => r.status >= 200).length < expected) {
        await conn.closedWithin(50);
      }
      conn.finish();
      if (!(await conn.closedWithin(CLOSE_WITHIN_MS))) {
        findings.push(`the connection was still open ${CLOSE_WITHIN_MS} ms after the client finished (${conn.received.length} bytes answered)`);
      }
      if (process.env.FUZZ_DEBUG) console.log(`  sent ${JSON.stringify(data.toString("latin1"))}\n  received ${JSON.stringify(conn.received.toString("latin1"))}`);
      const answers = parseUntilEnd(conn.received, bodiless, findings);
      checkAnswers(answers, bodiless ?? (() => false), findings, counts);
      if (answers.length === 0) counts["closed"] = (counts["closed"] ?? 0) + 1;
    } finally {
      conn.close();
    }
    return { requests: a.kind === "requests" ? a.requests.length : 1, findings, counts };
  },
};

/**
 * Every answer in what the node sent; bytes left over that are not a whole answer are a finding, unless a HEAD was
 * among the requests: a request the parser refuses is answered with a body even when it was a HEAD, so which answers
 * have bodies cannot be told from outside.
 */
function parseUntilEnd(data: Buffer, bodiless: ((index: number) => boolean) | undefined, findings: string[]): RawResponse[] {
  const { responses, consumed } = splitResponses(data, bodiless);
  const rest = data.subarray(consumed);
  if (rest.length > 0 && !bodiless) findings.push(`${rest.length} bytes that are not a whole HTTP answer: ${JSON.stringify(rest.subarray(0, 120).toString("latin1"))}`);
  return responses;
}
