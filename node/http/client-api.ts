/**
 * The client HTTP API (DESIGN.md §2): key-value operations under /v1/kv, cluster introspection, health, readiness
 * and metrics. Handlers validate at the edge, call the coordinator, and shape the answer; every error leaves as JSON
 * `{"error", "message"}` with the status its code maps to, never as a stack trace.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import express, { type Request } from "express";
import type { BucketConfig, Tuning } from "../config/index.js";
import { DynamoError } from "../errors/index.js";
import type { NodeMetrics } from "../metrics/index.js";
import type { Coordinator, KeyAnswer } from "../replication/index.js";
import { decodeContext, encodeContext, encodeContextOfRecord, liveSiblings } from "../versioning/index.js";
import type { VersionVector } from "../versioning/types.js";
import { readBody, type BodyLimits } from "./body.js";
import { errorBoundary, noRoute, sendError, sendJson, toDynamoError } from "./boundary.js";
import { ByteBudget } from "./byte-budget.js";
import { authorize, type AccessNeed, type ClientTokens } from "./client-auth.js";
import { KV_PREFIX, kvBucketOf, parseKvPath, parseQuorum, requireBucket, type QuorumOptions } from "./request.js";

export const CONTEXT_HEADER = "X-Dynamo-Context";

export interface ClientApiDeps {
  coordinator: Coordinator;
  buckets: Map<string, BucketConfig>;
  tuning: Tuning;
  metrics: NodeMetrics;
  contextSecret: Buffer;
  cluster: () => unknown;
  /** Readiness, with warnings that do not make the node unready (a bucket whose n the ring cannot give). */
  ready: () => { ready: boolean; reason?: string; warnings?: string[] };
  /** Told every key-value request's latency (ms): the streaming pace backs off when client latency rises. */
  requestLatency?: { record(ms: number): void };
  log: (message: string) => void;
}

/**
 * Paths anyone may call even when client tokens are on: probes, metrics (counts and latencies, no keys or values) and
 * the console's static files. The console's data (`/ui/api/...`, `/v1/node`) and `/v1/cluster` need a token.
 */
const OPEN_PATHS = new Set(["/healthz", "/readyz", "/metrics", "/ui", "/ui/", "/ui/index.html", "/ui/console.js", "/ui/console.css"]);

/**
 * The client port's authorization, in front of every route on it: `401 unauthorized` without a valid token, `403
 * forbidden` when the token's grants do not cover the bucket or the write. `tokens` returns the set in force now.
 */
export function clientAuthorization(tokens: () => ClientTokens): express.RequestHandler {
  return (req, res, next) => {
    if (!refuseUnauthorized(tokens(), req, res)) next();
  };
}

/** Answers 401 or 403 when the request's token does not allow it; true when it did. */
function refuseUnauthorized(tokens: ClientTokens, req: IncomingMessage, res: ServerResponse): boolean {
  const refusal = authorize(tokens, req.headers.authorization, accessNeed(req.method, rawUrlOf(req)));
  if (!refusal) return false;
  res.setHeader("WWW-Authenticate", refusal.code === "forbidden" ? 'Bearer realm="dynamo", error="insufficient_scope"' : 'Bearer realm="dynamo"');
  sendError(res, refusal);
  return true;
}

/**
 * The key-value routes: their handlers, the count of requests being coordinated and the body budget. They run under
 * express (`createClientApi`) and, for GET, PUT and DELETE on `/v1/kv/...`, straight from the HTTP server
 * (`withKvFastPath`), so the hot path does not pay for express's request decoration and router; both ways run the
 * same code with the same limits.
 */
export class KvRoutes {
  private readonly load: Load = { inFlight: 0 };
  private readonly bodies: Bodies;
  readonly get: KvHandler;
  readonly put: KvHandler;
  readonly delete: KvHandler;

  constructor(private readonly deps: ClientApiDeps) {
    this.bodies = {
      budget: new ByteBudget(deps.tuning.clientBodyBudgetBytes),
      limits: { valueMaxBytes: deps.tuning.valueMaxBytes, timeoutMs: deps.tuning.clientBodyTimeoutMs, budgetBytes: deps.tuning.clientBodyBudgetBytes },
    };
    this.get = measured(deps, this.load, "get", (req, res) => handleGet(deps, req, res));
    this.put = measured(deps, this.load, "put", (req, res) => handlePut(deps, this.bodies, req, res));
    this.delete = measured(deps, this.load, "delete", (req, res) => handleDelete(deps, req, res));
  }

  /** The handler for a request express would route to the key-value routes, or undefined for any other. */
  handlerFor(req: IncomingMessage): KvHandler | undefined {
    if (!req.url?.startsWith(KV_PREFIX)) return undefined;
    switch (req.method) {
      case "GET":
        return this.get;
      case "PUT":
        return this.put;
      case "DELETE":
        return this.delete;
      default:
        return undefined;
    }
  }

  /** The error answer of a key-value request, as express's error handler gives it. */
  fail(res: ServerResponse, err: unknown): void {
    sendError(res, toDynamoError(err, this.deps.log));
  }
}

/** A key-value route: answers the request, or passes an unexpected failure to `fail`. */
type KvHandler = (req: IncomingMessage, res: ServerResponse, fail: (err: unknown) => void) => void;

/**
 * The client port's request listener: key-value GET, PUT and DELETE (in their exact `/v1/kv/` spelling) go straight
 * to their routes after the same token check express would make; everything else (HEAD, other paths, the console,
 * probes, metrics) goes to `rest`, the express application.
 */
export function withKvFastPath(kv: KvRoutes, tokens: (() => ClientTokens) | undefined, rest: RequestListener): RequestListener {
  return (req, res) => {
    const handler = kv.handlerFor(req);
    if (!handler) {
      rest(req, res);
      return;
    }
    if (tokens && refuseUnauthorized(tokens(), req, res)) return;
    handler(req, res, (err) => kv.fail(res, err));
  };
}

export function createClientApi(deps: ClientApiDeps, kv = new KvRoutes(deps)): express.Express {
  const app = express();
  app.disable("x-powered-by");
  app.disable("etag");
  app.set("query parser", false);

  app.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  app.get("/readyz", (_req, res) => {
    const state = deps.ready();
    res.status(state.ready ? 200 : 503).json(state.ready ? { status: "ready", ...(state.warnings && { warnings: state.warnings }) } : { status: "not_ready", reason: state.reason });
  });
  app.get("/metrics", async (_req, res) => {
    res.type("text/plain; version=0.0.4").send(await deps.metrics.text());
  });
  app.get("/v1/cluster", (_req, res) => {
    res.json(deps.cluster());
  });

  app.get(/^\/v1\/kv\//, (req, res, next) => kv.get(req, res, next));
  app.put(/^\/v1\/kv\//, (req, res, next) => kv.put(req, res, next));
  app.delete(/^\/v1\/kv\//, (req, res, next) => kv.delete(req, res, next));

  app.use(noRoute());
  app.use(errorBoundary(deps.log));
  return app;
}

async function handleGet(deps: ClientApiDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { bucket, key, quorum } = parseKvRequest(deps, req);
  const answer = await deps.coordinator.read({ bucket, key, r: quorum.r, pr: quorum.pr });
  const live = answer ? liveSiblings(answer.record) : [];
  const context = answer && contextOf(deps, answer, bucket.name, key);
  if (live.length === 1) {
    deps.metrics.siblings.observe(1);
    const value = live[0]!.value!;
    // A stored value is whatever a client sent; a browser must never guess it is HTML or script. The stored
    // Content-Type goes back byte for byte (express's `type()` would append a charset). The headers go as one list,
    // which Node writes out without keeping them in an object first.
    res.writeHead(200, [CONTEXT_HEADER, context!, "X-Content-Type-Options", "nosniff", "Content-Type", live[0]!.contentType, "Content-Length", String(value.length)]);
    res.end(value);
    return;
  }
  if (context) res.setHeader(CONTEXT_HEADER, context);
  if (live.length === 0) {
    sendError(res, new DynamoError("not_found", "no value is stored under this key"));
    return;
  }
  deps.metrics.siblings.observe(live.length);
  res.setHeader("X-Content-Type-Options", "nosniff");
  sendJson(res, 300, {
    context: res.getHeader(CONTEXT_HEADER),
    siblings: live.map((s) => ({ value: s.value!.toString("base64"), contentType: s.contentType })),
  });
}

/** The node-wide budget that bodies being read and held take from, and the limits each body is read under. */
interface Bodies {
  budget: ByteBudget;
  limits: BodyLimits;
}

async function handlePut(deps: ClientApiDeps, bodies: Bodies, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { bucket, key, quorum } = parseKvRequest(deps, req);
  const context = readContext(deps, req, bucket.name, key) ?? {};
  // The body's bytes stay taken from the budget until the coordinator is done with them, even when the client has
  // gone away in between: the write goes on, and so does the memory it holds.
  const lease = bodies.budget.lease();
  try {
    const value = await readBody(req, res, lease, bodies.limits);
    const contentType = req.headers["content-type"] ?? "application/octet-stream";
    const answer = await deps.coordinator.write({ bucket, key, value, contentType, context, w: quorum.w, pw: quorum.pw });
    sendWritten(deps, res, answer, bucket.name, key);
  } finally {
    lease.release();
  }
}

async function handleDelete(deps: ClientApiDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { bucket, key, quorum } = parseKvRequest(deps, req);
  const context = readContext(deps, req, bucket.name, key);
  const answer = await deps.coordinator.write({ bucket, key, value: null, contentType: "", context, w: quorum.w, pw: quorum.pw });
  sendWritten(deps, res, answer, bucket.name, key);
}

/** The validated bucket, key and quorum of a key-value request, from its raw URL. */
function parseKvRequest(deps: ClientApiDeps, req: IncomingMessage): { bucket: BucketConfig; key: Buffer; quorum: QuorumOptions } {
  const { path, query } = splitUrl(rawUrlOf(req));
  const { bucket: bucketName, key } = parseKvPath(path);
  const bucket = requireBucket(deps.buckets, bucketName);
  return { bucket, key, quorum: parseQuorum(query, bucket) };
}

function contextOf(deps: ClientApiDeps, answer: KeyAnswer, bucket: string, key: Buffer): string {
  return answer.encoded ? encodeContextOfRecord(answer.encoded, bucket, key, deps.contextSecret) : encodeContext(answer.record.clock, bucket, key, deps.contextSecret);
}

function sendWritten(deps: ClientApiDeps, res: ServerResponse, answer: KeyAnswer, bucket: string, key: Buffer): void {
  res.writeHead(204, [CONTEXT_HEADER, contextOf(deps, answer, bucket, key)]);
  res.end();
}

function readContext(deps: ClientApiDeps, req: IncomingMessage, bucket: string, key: Buffer): VersionVector | undefined {
  const header = req.headers[CONTEXT_HEADER.toLowerCase()];
  if (header === undefined || header === "") return undefined;
  if (Array.isArray(header)) throw new DynamoError("invalid_request", `${CONTEXT_HEADER} is given more than once`);
  return decodeContext(header, bucket, key, deps.contextSecret);
}

/** What a request needs from its token: nothing for probes, read or write on a bucket for keys, any token otherwise. */
function accessNeed(method: string | undefined, rawUrl: string): AccessNeed {
  const { path } = splitUrl(rawUrl);
  if (OPEN_PATHS.has(path)) return { kind: "open" };
  const bucket = kvBucketOf(path);
  if (bucket === undefined) return { kind: "any" };
  return { kind: "bucket", bucket, scope: method === "GET" || method === "HEAD" ? "r" : "rw" };
}

/** The request's URL as the client sent it: express rewrites `req.url` under a mount point, never `originalUrl`. */
function rawUrlOf(req: IncomingMessage): string {
  return (req as Partial<Request>).originalUrl ?? req.url ?? "/";
}

/** The path and the query of a raw URL; no query (nearly every key-value request) parses nothing. */
function splitUrl(originalUrl: string): { path: string; query: URLSearchParams | undefined } {
  const q = originalUrl.indexOf("?");
  return q < 0 ? { path: originalUrl, query: undefined } : { path: originalUrl.slice(0, q), query: new URLSearchParams(originalUrl.slice(q + 1)) };
}

/** Key-value requests being coordinated by one API instance right now, across all operations. */
interface Load {
  inFlight: number;
}

function measured(deps: ClientApiDeps, load: Load, op: string, handler: (req: IncomingMessage, res: ServerResponse) => Promise<void>): KvHandler {
  // The labelled children are looked up once, not per request: prom-client hashes the labels on every lookup.
  const duration = deps.metrics.requestDuration.labels({ op });
  const byStatus = new Map<number, { inc(): void }>();
  const counted = (status: number) => {
    let counter = byStatus.get(status);
    if (!counter) byStatus.set(status, (counter = deps.metrics.requests.labels({ op, status: String(status) })));
    return counter;
  };
  return (req, res, next) => {
    const started = performance.now();
    res.on("finish", () => {
      const ms = performance.now() - started;
      duration.observe(ms / 1000);
      deps.requestLatency?.record(ms);
      counted(res.statusCode).inc();
    });
    // Past the bound a node answers at once rather than queueing work it cannot finish within the request timeout.
    if (load.inFlight >= deps.tuning.coordinatorInFlightMax) {
      next(new DynamoError("unavailable", `this node is coordinating ${load.inFlight} requests already (limit ${deps.tuning.coordinatorInFlightMax}); retry or use another node`));
      return;
    }
    // A request counts until its handler is done, not until its client hangs up: the coordinator's work goes on.
    load.inFlight += 1;
    // One reaction for either outcome: `catch` and then `finally` made four promises for every request.
    handler(req, res).then(
      () => {
        load.inFlight -= 1;
      },
      (err: unknown) => {
        load.inFlight -= 1;
        next(err);
      },
    );
  };
}
