/**
 * `DynamoClient`: the typed face of the Client HTTP API. It spreads requests over one or more nodes round-robin (any
 * node can coordinate any key) and fails a read over to the next node when a connection cannot be made. Writes are
 * never retried by the client: a write that failed mid-flight may still have been stored, and only the caller knows
 * whether sending it again is right.
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
    const start = this.#pickStart();
    let lastError: DynamoClientError | undefined;
    for (let attempt = 0; attempt < this.#baseUrls.length; attempt++) {
      const baseUrl = this.#baseUrls[(start + attempt) % this.#baseUrls.length];
      try {
        return await this.#transport.request({ method: "GET", url: `${baseUrl}${path}`, timeoutMs: timeoutMs ?? this.#timeoutMs });
      } catch (error) {
        if (!(error instanceof DynamoClientError) || error.code !== "network_error") throw error;
        lastError = error;
      }
    }
    throw lastError as DynamoClientError;
  }

  async #write(
    method: "PUT" | "DELETE",
    path: string,
    headers: Record<string, string>,
    body: Buffer | undefined,
    timeoutMs: number | undefined,
  ): Promise<RawResponse> {
    const url = `${this.#baseUrls[this.#pickStart()]}${path}`;
    return this.#transport.request({ method, url, headers, body, timeoutMs: timeoutMs ?? this.#timeoutMs });
  }
}
