/**
 * `DynamoClient`: the typed face of the Client HTTP API. It spreads requests over one or more nodes round-robin (any
 * node can coordinate any key), or with `routing: "ring"` sends each straight to a replica of its key (routing.ts),
 * and fails a read over to the next node when a connection cannot be made. A write moves on to the next node only
 * when the failed attempt provably stored nothing: the connection was refused, the node's kernel reset it with the
 * request unread (a stopping node's accept queue), a kept-alive connection the node was closing failed before any
 * answer, or the node answered `503 not_ready` (it is shutting down or has no ring yet). Any other failed write is the
 * caller's to judge: it may still have been stored. Together with a node's drain this is what lets a rolling restart
 * pass without a failed request.
 */
import { DynamoClientError } from "./errors.js";
import {
  parseClusterResponse,
  parseDeleteResponse,
  parseGetResponse,
  parsePutResponse,
  CONTEXT_HEADER,
  type DeleteResult,
  type GetResult,
  type RawResponse,
  type WriteResult,
} from "./response.js";
import { RING_VERSION_HEADER } from "../node/ring/client-view.js";
import { RingRouter, type RingAnswer, type RoutingOptions } from "./routing.js";
import { HttpTransport } from "./transport.js";
import { kvPath, normalizeBaseUrl } from "./url.js";

export interface DynamoClientOptions {
  /** Connections per node, kept alive between requests; more concurrent requests than this wait, within their deadline. */
  maxSockets?: number;
  /** Deadline for every request that does not set its own `timeoutMs`. */
  timeoutMs?: number;
  /** Largest response body accepted, in bytes. */
  responseBytesMax?: number;
  /** How long an idle keep-alive connection is kept open. */
  idleSocketTimeoutMs?: number;
  /**
   * How long a new connection (and its TLS handshake) may take before the request moves on to another node; nothing
   * has been sent by then, so even a write may move. A node whose address vanished otherwise costs the whole deadline.
   */
  connectTimeoutMs?: number;
  /** A client token (`dynamo token create`), sent as a bearer token with every request; for nodes that require one. */
  token?: string;
  /** PEM certificate(s) to trust for https base URLs, e.g. the cluster's client CA; the system's CAs when absent. */
  ca?: string | Buffer;
  /**
   * The name nodes' certificates are checked against when base URLs hold addresses rather than that name: under the
   * operator, the client Service's (`X.NAMESPACE.svc`), which every node's client-port certificate carries.
   */
  servername?: string;
  /**
   * `round-robin` (the default) spreads requests over the base URLs and lets the node that takes a request forward
   * it to the key's replicas. `ring` learns the ring from the nodes and sends each request straight to a replica of
   * its key, saving that hop; it needs the nodes' advertised client URLs (`GET /v1/ring`) to be reachable from here,
   * which is why it is not the default: behind a load balancer or a port-forward they are not. See
   * docs/client-routing.md.
   */
  routing?: "round-robin" | "ring";
  /** Tuning of `routing: "ring"`: how often the ring may be fetched, and how long a failed node is passed over. */
  routingOptions?: Partial<RoutingOptions>;
}

export const DEFAULT_CLIENT_OPTIONS: Required<Omit<DynamoClientOptions, "token" | "ca" | "servername" | "routingOptions">> = {
  routing: "round-robin",
  maxSockets: 64,
  timeoutMs: 5_000,
  // Room for a handful of 1 MiB siblings, base64-encoded, in one 300 response.
  responseBytesMax: 32 * 1024 * 1024,
  idleSocketTimeoutMs: 4_000,
  connectTimeoutMs: 2_000,
};

export interface GetOptions {
  /** Read quorum for this request (1..n); the bucket's default when absent. */
  r?: number;
  /** Primary read quorum: how many of the replies must come from primary (not fallback) replicas. */
  pr?: number;
  timeoutMs?: number;
}

export interface PutOptions {
  /** The context from an earlier read; absent for a blind write. */
  context?: string;
  contentType?: string;
  w?: number;
  /** Primary write quorum: how many of the acknowledgements must come from primary replicas. */
  pw?: number;
  timeoutMs?: number;
}

export interface DeleteOptions {
  context?: string;
  w?: number;
  timeoutMs?: number;
}

export class DynamoClient {
  readonly #baseUrls: readonly string[];
  readonly #transport: HttpTransport;
  readonly #timeoutMs: number;
  readonly #router: RingRouter | undefined;
  #next = 0;

  constructor(baseUrls: string | readonly string[], options: DynamoClientOptions = {}) {
    const list = typeof baseUrls === "string" ? [baseUrls] : baseUrls;
    if (list.length === 0) throw new DynamoClientError("invalid_request", "DynamoClient needs at least one base URL");
    this.#baseUrls = list.map(normalizeBaseUrl);
    const settings = { ...DEFAULT_CLIENT_OPTIONS, ...options };
    this.#timeoutMs = settings.timeoutMs;
    this.#transport = new HttpTransport(settings);
    // An option given as undefined means its default, as for a caller that passes its own optional setting through.
    const routing = options.routing ?? DEFAULT_CLIENT_OPTIONS.routing;
    if (routing !== "round-robin" && routing !== "ring") {
      throw new DynamoClientError("invalid_request", `routing must be "round-robin" or "ring", got ${JSON.stringify(routing)}`);
    }
    this.#router =
      routing === "ring"
        ? new RingRouter({ baseUrls: this.#baseUrls, fetchRing: (url, etag) => this.#fetchRing(url, etag), now: () => performance.now(), options: options.routingOptions })
        : undefined;
  }

  /** With `routing: "ring"`, the version (`TERM.EPOCH`) of the ring requests are routed by; undefined until it is known. */
  get ringVersion(): string | undefined {
    return this.#router?.version;
  }

  /** With `routing: "ring"`: fetches the ring now (within the refresh rate limit) and resolves when that is done. */
  async refreshRing(): Promise<void> {
    await this.#router?.refresh();
  }

  /** The normalized base URLs this client sends to, in round-robin order. */
  get baseUrls(): readonly string[] {
    return this.#baseUrls;
  }

  async get(bucket: string, key: string | Buffer, options: GetOptions = {}): Promise<GetResult> {
    const path = kvPath(bucket, key, { r: options.r, pr: options.pr });
    const response = await this.#send({ method: "GET", path, timeoutMs: options.timeoutMs }, true, { bucket, key, kind: "read" });
    return parseGetResponse(response);
  }

  async put(bucket: string, key: string | Buffer, value: Buffer | string, options: PutOptions = {}): Promise<WriteResult> {
    const path = kvPath(bucket, key, { w: options.w, pw: options.pw });
    const body = typeof value === "string" ? Buffer.from(value, "utf8") : value;
    const contentType =
      options.contentType ?? (typeof value === "string" ? "text/plain; charset=utf-8" : "application/octet-stream");
    const headers: Record<string, string> = { "content-type": contentType };
    if (options.context !== undefined) headers[CONTEXT_HEADER] = options.context;
    const response = await this.#send({ method: "PUT", path, headers, body, timeoutMs: options.timeoutMs }, false, { bucket, key, kind: "write" });
    return parsePutResponse(response);
  }

  async delete(bucket: string, key: string | Buffer, options: DeleteOptions = {}): Promise<DeleteResult> {
    const path = kvPath(bucket, key, { w: options.w });
    const headers: Record<string, string> = {};
    if (options.context !== undefined) headers[CONTEXT_HEADER] = options.context;
    const response = await this.#send({ method: "DELETE", path, headers, timeoutMs: options.timeoutMs }, false, { bucket, key, kind: "write" });
    return parseDeleteResponse(response);
  }

  /** The coordinator's view of the cluster (`GET /v1/cluster`); its fields are those the server chooses to report. */
  async cluster(options: { timeoutMs?: number } = {}): Promise<Record<string, unknown>> {
    return parseClusterResponse(await this.#send({ method: "GET", path: "/v1/cluster", timeoutMs: options.timeoutMs }, true));
  }

  /** Closes idle connections. The client must not be used afterwards. */
  close(): void {
    this.#transport.close();
  }

  /** The base URLs in round-robin order, starting one further each call. */
  #rotation(): string[] {
    const start = this.#next;
    this.#next = (this.#next + 1) % this.#baseUrls.length;
    return [...this.#baseUrls.slice(start), ...this.#baseUrls.slice(0, start)];
  }

  async #fetchRing(url: string, etag: string | undefined): Promise<RingAnswer> {
    const response = await this.#transport.request({
      method: "GET",
      baseUrl: url,
      path: "/v1/ring",
      headers: etag === undefined ? {} : { "if-none-match": etag },
      timeoutMs: this.#timeoutMs,
    });
    const tag = response.headers["etag"];
    const answer: RingAnswer = { status: response.status, ...(typeof tag === "string" && { etag: tag }) };
    if (response.status !== 200) return answer;
    return { ...answer, body: JSON.parse(response.body.toString("utf8")) as unknown };
  }

  /**
   * Sends to the nodes in turn (round-robin, or the key's replicas first under ring routing), moving on (once through
   * the list at most) after a failure that allows it: any connection failure for an idempotent request, one that
   * provably delivered nothing for a write, and a node's `503 not_ready` for both. Timeouts are not retried: the
   * deadline is the caller's budget for the whole call, and it has been spent. The last node's answer or error is what
   * the caller gets.
   */
  async #send(
    request: { method: "GET" | "PUT" | "DELETE"; path: string; headers?: Record<string, string>; body?: Buffer; timeoutMs: number | undefined },
    idempotent: boolean,
    route?: { bucket: string; key: string | Buffer; kind: "read" | "write" },
  ): Promise<RawResponse> {
    const router = this.#router;
    const routed = router && route ? router.candidates(route.bucket, typeof route.key === "string" ? Buffer.from(route.key, "utf8") : route.key, route.kind) : undefined;
    const urls = routed ?? this.#rotation();
    const version = routed ? router?.version : undefined;
    const headers = version === undefined ? request.headers : { ...request.headers, [RING_VERSION_HEADER]: version };
    let lastError: DynamoClientError | undefined;
    for (let attempt = 0; attempt < urls.length; attempt++) {
      const baseUrl = urls[attempt] as string;
      const last = attempt === urls.length - 1;
      try {
        const response = await this.#transport.request({
          method: request.method,
          baseUrl,
          path: request.path,
          headers,
          body: request.body,
          timeoutMs: request.timeoutMs ?? this.#timeoutMs,
        });
        const unserved = refusedUnserved(response);
        if (router) {
          if (unserved) router.failed(baseUrl);
          else router.answered(baseUrl, response);
        }
        if (last || !unserved) return response;
      } catch (error) {
        if (router && error instanceof DynamoClientError && (error.code === "network_error" || error.code === "timeout")) router.failed(baseUrl);
        if (!(error instanceof DynamoClientError) || error.code !== "network_error" || !(idempotent || error.notDelivered)) throw error;
        lastError = error;
        if (last) throw error;
      }
    }
    throw lastError as DynamoClientError;
  }
}

/** A node's `503 not_ready`: it stored nothing (shutting down, or no ring yet) and another node may take the request. */
function refusedUnserved(response: RawResponse): boolean {
  if (response.status !== 503) return false;
  try {
    return (JSON.parse(response.body.toString("utf8")) as { error?: unknown }).error === "not_ready";
  } catch {
    return false;
  }
}
