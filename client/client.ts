/**
 * `DynamoClient`: the typed face of the Client HTTP API. It spreads requests over one or more nodes round-robin (any
 * node can coordinate any key) and fails a read over to the next node when a connection cannot be made. A write moves
 * on to the next node only when the failed attempt provably stored nothing: the connection was refused, a kept-alive
 * connection the node was closing failed before any answer, or the node answered `503 not_ready` (it is shutting down
 * or has no ring yet). Any other failed write is the caller's to judge: it may still have been stored. Together with a
 * node's drain this is what lets a rolling restart pass without a failed request.
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
import { HttpTransport } from "./transport.js";
import { kvPath, normalizeBaseUrl } from "./url.js";

export interface DynamoClientOptions {
  /** Connections per node kept by the keep-alive agent; more concurrent requests than this queue. */
  maxSockets?: number;
  /** Deadline for every request that does not set its own `timeoutMs`. */
  timeoutMs?: number;
  /** Largest response body accepted, in bytes. */
  responseBytesMax?: number;
  /** How long an idle keep-alive connection is kept open. */
  idleSocketTimeoutMs?: number;
  /** A client token (`dynamo token create`), sent as a bearer token with every request; for nodes that require one. */
  token?: string;
  /** PEM certificate(s) to trust for https base URLs, e.g. the cluster's client CA; the system's CAs when absent. */
  ca?: string | Buffer;
  /**
   * The name nodes' certificates are checked against when base URLs hold addresses rather than that name: under the
   * operator, the client Service's (`X.NAMESPACE.svc`), which every node's client-port certificate carries.
   */
  servername?: string;
}

export const DEFAULT_CLIENT_OPTIONS: Required<Omit<DynamoClientOptions, "token" | "ca" | "servername">> = {
  maxSockets: 64,
  timeoutMs: 5_000,
  // Room for a handful of 1 MiB siblings, base64-encoded, in one 300 response.
  responseBytesMax: 32 * 1024 * 1024,
  idleSocketTimeoutMs: 4_000,
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
  #next = 0;

  constructor(baseUrls: string | readonly string[], options: DynamoClientOptions = {}) {
    const list = typeof baseUrls === "string" ? [baseUrls] : baseUrls;
    if (list.length === 0) throw new DynamoClientError("invalid_request", "DynamoClient needs at least one base URL");
    this.#baseUrls = list.map(normalizeBaseUrl);
    const settings = { ...DEFAULT_CLIENT_OPTIONS, ...options };
    this.#timeoutMs = settings.timeoutMs;
    this.#transport = new HttpTransport(settings);
  }

  /** The normalized base URLs this client sends to, in round-robin order. */
  get baseUrls(): readonly string[] {
    return this.#baseUrls;
  }

  async get(bucket: string, key: string | Buffer, options: GetOptions = {}): Promise<GetResult> {
    const path = kvPath(bucket, key, { r: options.r, pr: options.pr });
    const response = await this.#read(path, options.timeoutMs);
    return parseGetResponse(response);
  }

  async put(bucket: string, key: string | Buffer, value: Buffer | string, options: PutOptions = {}): Promise<WriteResult> {
    const path = kvPath(bucket, key, { w: options.w, pw: options.pw });
    const body = typeof value === "string" ? Buffer.from(value, "utf8") : value;
    const contentType =
      options.contentType ?? (typeof value === "string" ? "text/plain; charset=utf-8" : "application/octet-stream");
    const headers: Record<string, string> = { "content-type": contentType };
    if (options.context !== undefined) headers[CONTEXT_HEADER] = options.context;
    const response = await this.#write("PUT", path, headers, body, options.timeoutMs);
    return parsePutResponse(response);
  }

  async delete(bucket: string, key: string | Buffer, options: DeleteOptions = {}): Promise<DeleteResult> {
    const path = kvPath(bucket, key, { w: options.w });
    const headers: Record<string, string> = {};
    if (options.context !== undefined) headers[CONTEXT_HEADER] = options.context;
    const response = await this.#write("DELETE", path, headers, undefined, options.timeoutMs);
    return parseDeleteResponse(response);
  }

  /** The coordinator's view of the cluster (`GET /v1/cluster`); its fields are those the server chooses to report. */
  async cluster(options: { timeoutMs?: number } = {}): Promise<Record<string, unknown>> {
    return parseClusterResponse(await this.#read("/v1/cluster", options.timeoutMs));
  }

  /** Closes idle connections. The client must not be used afterwards. */
  close(): void {
    this.#transport.close();
  }

  #pickStart(): number {
    const index = this.#next;
    this.#next = (this.#next + 1) % this.#baseUrls.length;
    return index;
  }

  /**
   * Reads are idempotent, so a connection failure moves on to the next node, once around the list at most. Timeouts
   * are not retried: the deadline is the caller's budget for the whole call, and it has been spent.
   */
  async #read(path: string, timeoutMs: number | undefined): Promise<RawResponse> {
    return this.#send({ method: "GET", path, timeoutMs }, true);
  }

  async #write(
    method: "PUT" | "DELETE",
    path: string,
    headers: Record<string, string>,
    body: Buffer | undefined,
    timeoutMs: number | undefined,
  ): Promise<RawResponse> {
    return this.#send({ method, path, headers, body, timeoutMs }, false);
  }

  /**
   * Sends to the next node in turn, moving on (once around the list at most) after a failure that allows it: any
   * connection failure for an idempotent request, one that provably delivered nothing for a write, and a node's
   * `503 not_ready` for both. The last node's answer or error is what the caller gets.
   */
  async #send(
    request: { method: "GET" | "PUT" | "DELETE"; path: string; headers?: Record<string, string>; body?: Buffer; timeoutMs: number | undefined },
    idempotent: boolean,
  ): Promise<RawResponse> {
    const start = this.#pickStart();
    const attempts = this.#baseUrls.length;
    let lastError: DynamoClientError | undefined;
    for (let attempt = 0; attempt < attempts; attempt++) {
      const baseUrl = this.#baseUrls[(start + attempt) % attempts];
      const last = attempt === attempts - 1;
      try {
        const response = await this.#transport.request({
          method: request.method,
          url: `${baseUrl}${request.path}`,
          headers: request.headers,
          body: request.body,
          timeoutMs: request.timeoutMs ?? this.#timeoutMs,
        });
        if (last || !refusedUnserved(response)) return response;
      } catch (error) {
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
