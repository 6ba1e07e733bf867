/**
 * One HTTP exchange over node:http with a keep-alive agent: send a request, collect a bounded response body, and turn
 * every way it can fail into a `DynamoClientError` (`network_error`, `timeout`, `invalid_response`). The deadline
 * covers the whole exchange, body included, so a server that stalls mid-body cannot hang the caller.
 */
import http from "node:http";
import https from "node:https";
import { DynamoClientError } from "./errors.js";
import type { RawResponse } from "./response.js";

export interface TransportOptions {
  /** Upper bound on open connections per base URL; requests beyond it queue inside the agent. */
  maxSockets: number;
  /** Responses larger than this are abandoned; it bounds the memory one request can take. */
  responseBytesMax: number;
  /**
   * Idle keep-alive sockets are closed after this long. It must stay below the server's keep-alive timeout (Node's
   * default is 5 s), or a request may be written onto a socket the server is closing and fail for no real reason.
   */
  idleSocketTimeoutMs: number;
  /**
   * A new connection (TCP, and the TLS handshake for https) must be up within this long. Until then no byte of the
   * request has left, so the request may go to another node even when it is a write: a node whose address vanished
   * (a pod gone, a machine off) answers nothing at all, and waiting out the whole deadline would fail the request.
   */
  connectTimeoutMs: number;
  /** PEM certificates to trust for https URLs instead of the system's; a node's client-port CA. */
  ca?: string | Buffer;
  /** The name to check nodes' certificates against instead of the URL's host (which may be a pod address). */
  servername?: string;
  /** Sent as `Authorization: Bearer <token>` with every request. */
  token?: string;
}

export interface HttpRequest {
  method: "GET" | "PUT" | "DELETE";
  url: string;
  headers?: Record<string, string>;
  body?: Buffer;
  timeoutMs: number;
}

export class HttpTransport {
  readonly #agent: http.Agent;
  readonly #tlsAgent: https.Agent;
  readonly #responseBytesMax: number;
  readonly #authorization: string | undefined;
  readonly #connectTimeoutMs: number;

  constructor(options: TransportOptions) {
    const pool = { keepAlive: true, maxSockets: options.maxSockets, maxFreeSockets: options.maxSockets, timeout: options.idleSocketTimeoutMs };
    this.#agent = new http.Agent(pool);
    this.#tlsAgent = new https.Agent({
      ...pool,
      ...(options.ca === undefined ? {} : { ca: options.ca }),
      ...(options.servername === undefined ? {} : { servername: options.servername }),
    });
    this.#responseBytesMax = options.responseBytesMax;
    this.#connectTimeoutMs = options.connectTimeoutMs;
    this.#authorization = options.token === undefined ? undefined : `Bearer ${options.token}`;
  }

  request(request: HttpRequest): Promise<RawResponse> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = { ...request.headers };
      if (request.body !== undefined) headers["content-length"] = String(request.body.length);
      if (this.#authorization !== undefined) headers["authorization"] = this.#authorization;
      const secure = request.url.startsWith("https:");
      const req = (secure ? https : http).request(request.url, { method: request.method, agent: secure ? this.#tlsAgent : this.#agent, headers });
      let settled = false;
      const finish = (error: DynamoClientError | undefined, response?: RawResponse): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        clearTimeout(connectTimer);
        if (error !== undefined) {
          req.destroy();
          reject(error);
        } else {
          resolve(response as RawResponse);
        }
      };
      const timer = setTimeout(() => {
        finish(new DynamoClientError("timeout", `${request.method} ${request.url} timed out after ${request.timeoutMs} ms`));
      }, request.timeoutMs);

      let connectTimer: NodeJS.Timeout | undefined;
      // Whether the connection finished its TCP (and TLS) handshake. Node writes nothing of the request before that,
      // so a failure while it is false means the node never saw the request.
      let handshaken = false;
      req.on("socket", (socket) => {
        // A kept-alive socket is already up; only a new one can hang in its connect or handshake.
        if (req.reusedSocket) {
          handshaken = true;
          return;
        }
        connectTimer = setTimeout(() => {
          finish(new DynamoClientError("network_error", `${request.method} ${request.url}: no connection within ${this.#connectTimeoutMs} ms`, { notDelivered: true }));
        }, this.#connectTimeoutMs);
        socket.once(secure ? "secureConnect" : "connect", () => {
          handshaken = true;
          clearTimeout(connectTimer);
        });
        socket.once("close", () => clearTimeout(connectTimer));
      });

      let answered = false;
      req.on("error", (cause: NodeJS.ErrnoException) => {
        const reason = cause.code ?? cause.message;
        finish(new DynamoClientError("network_error", `${request.method} ${request.url}: ${reason}`, { cause, notDelivered: !answered && (!handshaken || notDelivered(req, cause)) }));
      });
      req.on("response", (res) => {
        answered = true;
        this.#collect(request, res, finish);
      });
      req.end(request.body);
    });
  }

  #collect(
    request: HttpRequest,
    res: http.IncomingMessage,
    finish: (error: DynamoClientError | undefined, response?: RawResponse) => void,
  ): void {
    const chunks: Buffer[] = [];
    let bytes = 0;
    res.on("data", (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > this.#responseBytesMax) {
        finish(
          new DynamoClientError("invalid_response", `response to ${request.method} ${request.url} exceeds ${this.#responseBytesMax} bytes`, {
            status: res.statusCode,
          }),
        );
        return;
      }
      chunks.push(chunk);
    });
    res.on("end", () => {
      finish(undefined, { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks, bytes) });
    });
    res.on("error", (cause: NodeJS.ErrnoException) => {
      finish(new DynamoClientError("network_error", `${request.method} ${request.url}: ${cause.code ?? cause.message}`, { cause }));
    });
    res.on("close", () => {
      if (!res.complete) {
        finish(new DynamoClientError("network_error", `${request.method} ${request.url}: connection closed mid-response`));
      }
    });
  }

  /** Closes idle connections; requests in flight finish on their own. */
  close(): void {
    this.#agent.destroy();
    this.#tlsAgent.destroy();
  }
}

/**
 * Whether a failed request provably never reached the node's handlers.
 * - The connection was refused or had no route: it never opened.
 * - The node's kernel reset the connection before any answer (ECONNRESET or EPIPE from a read or write, so with a
 *   `syscall`): a kernel resets a connection it closes only when bytes sent on it were never read, so the process
 *   never read the whole request. A stopping node does this to the connections still in its accept queue when it
 *   closes its listener: over plain TCP the client has already sent the request on them. A node that read the request
 *   and then closed the connection, or crashed, closes it with a FIN, which Node reports as a hang-up with no
 *   `syscall`: that request may have been stored, and it counts as delivered.
 * - A kept-alive connection failed before any answer, hang-up included: the node closed it as the request went out
 *   (it closes idle connections when it shuts down, and Node's http documentation names this race as the one to
 *   retry). A node that crashed while serving a request on a kept-alive connection looks the same; that is the price
 *   of not failing a planned restart.
 * A failure before a new connection's handshake finished is counted as not delivered where the request is made.
 */
function notDelivered(req: http.ClientRequest, cause: NodeJS.ErrnoException): boolean {
  if (cause.code === "ECONNREFUSED" || cause.code === "EHOSTUNREACH" || cause.code === "ENETUNREACH" || cause.code === "EHOSTDOWN") return true;
  if (cause.code !== "ECONNRESET" && cause.code !== "EPIPE") return false;
  return req.reusedSocket || cause.syscall !== undefined;
}
