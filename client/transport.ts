/**
 * One HTTP exchange at a time per connection, over a pool of kept-alive connections per node: send a request, read a
 * bounded response, and turn every way it can fail into a `DynamoClientError` (`network_error`, `timeout`,
 * `invalid_response`). The deadline covers the whole exchange, the wait for a connection and the body included, so a
 * server that stalls mid-body cannot hang the caller.
 *
 * It speaks HTTP/1.1 on net and tls sockets itself instead of through node:http's agent and ClientRequest: a
 * benchmark driver spent about half of its CPU in those (request objects, agent bookkeeping, header objects, event
 * emitters, streams) for requests that are one write and, nearly always, one read. The request goes out as one buffer
 * in one write; the response is read by `ResponseReader` (`http1.ts`). The failure semantics are node:http's, which
 * callers rely on to know whether a failed write may have been stored (see `notDelivered` below).
 */
import net from "node:net";
import tls from "node:tls";
import { DynamoClientError } from "./errors.js";
import type { RawResponse } from "./response.js";
import { ResponseReader } from "./http1.js";

export interface TransportOptions {
  /** Upper bound on open connections per node; requests beyond it wait, within their deadline, for one to be free. */
  maxSockets: number;
  /** Responses larger than this are abandoned; it bounds the memory one request can take. */
  responseBytesMax: number;
  /**
   * Idle keep-alive connections are closed after this long. It must stay below the keep-alive timeout of the nodes
   * (65 s) and of any proxy in between, or a request may be written onto a connection the other end is closing.
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
  /** A base URL as `normalizeBaseUrl` returns it: scheme, host, port and an optional path prefix. */
  baseUrl: string;
  /** The request's path and query, appended to the base URL's path prefix. */
  path: string;
  headers?: Record<string, string>;
  body?: Buffer;
  timeoutMs: number;
}

/** TLS sessions kept for resumption, one per node, as many as node:http's agent keeps (`maxCachedSessions`). */
const SESSIONS_MAX = 100;

/** node:http's rule for header values: no control characters other than tab, so nothing can end a header line. */
const INVALID_HEADER_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

interface Origin {
  /** The base URL this origin was made for, its key in the transport's map. */
  baseUrl: string;
  secure: boolean;
  host: string;
  port: number;
  /** The `Host` header: the URL's host with its port unless it is the scheme's default. */
  hostHeader: string;
  pathPrefix: string;
  servername: string | undefined;
  pool: Pool;
}

interface Pool {
  /** Connections not serving a request, the most recently used last. */
  idle: Connection[];
  /** Connections open or opening, idle ones included: what `maxSockets` bounds. */
  open: number;
  /** Requests waiting for a connection, oldest first. */
  waiting: Exchange[];
}

interface Connection {
  socket: net.Socket;
  origin: Origin;
  /** Whether the TCP (and TLS) handshake finished: no byte of a request leaves before it does. */
  handshaken: boolean;
  /** Whether an earlier exchange completed on it, so it is a kept-alive connection. */
  reused: boolean;
  exchange: Exchange | undefined;
  idleSince: number;
  connectTimer: NodeJS.Timeout | undefined;
  /** The error the socket reported, if any, for the exchange that fails when it closes. */
  error: NodeJS.ErrnoException | undefined;
}

interface Exchange {
  request: HttpRequest;
  bytes: Buffer;
  reader: ResponseReader;
  timer: NodeJS.Timeout | undefined;
  connection: Connection | undefined;
  settled: boolean;
  resolve: (response: RawResponse) => void;
  reject: (error: DynamoClientError) => void;
}

export class HttpTransport {
  readonly #options: TransportOptions;
  readonly #authorization: string | undefined;
  readonly #origins = new Map<string, Origin>();
  /**
   * The last TLS session each node offered, so that a new connection resumes it instead of a full handshake. Kept
   * apart from the origins, which are forgotten when their last connection closes, and bounded: the oldest goes first.
   */
  readonly #sessions = new Map<string, Buffer>();
  #sweeper: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: TransportOptions) {
    if (!Number.isInteger(options.maxSockets) || options.maxSockets < 1) {
      throw new DynamoClientError("invalid_request", `maxSockets must be a whole number of at least 1, got ${options.maxSockets}`);
    }
    this.#options = options;
    this.#authorization = options.token === undefined ? undefined : `Bearer ${options.token}`;
    if (this.#authorization !== undefined && INVALID_HEADER_VALUE.test(this.#authorization)) {
      throw new DynamoClientError("invalid_request", "the token contains characters a header cannot carry");
    }
  }

  request(request: HttpRequest): Promise<RawResponse> {
    return new Promise((resolve, reject) => {
      let bytes: Buffer;
      let origin: Origin;
      try {
        origin = this.#origin(request.baseUrl);
        bytes = this.#encode(origin, request);
      } catch (error) {
        reject(error instanceof DynamoClientError ? error : new DynamoClientError("invalid_request", String(error), { cause: error }));
        return;
      }
      const exchange: Exchange = {
        request,
        bytes,
        reader: new ResponseReader({ bodyBytesMax: this.#options.responseBytesMax }),
        timer: undefined,
        connection: undefined,
        settled: false,
        resolve,
        reject,
      };
      exchange.timer = setTimeout(() => {
        this.#fail(exchange, new DynamoClientError("timeout", `${request.method} ${describe(request)} timed out after ${request.timeoutMs} ms`));
      }, request.timeoutMs);
      this.#acquire(origin, exchange);
    });
  }

  /** Closes idle connections; requests in flight finish on their own, and their connections close afterwards. */
  close(): void {
    this.#closed = true;
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    for (const origin of this.#origins.values()) {
      for (const connection of origin.pool.idle.splice(0)) connection.socket.destroy();
    }
  }

  #origin(baseUrl: string): Origin {
    const known = this.#origins.get(baseUrl);
    if (known !== undefined) return known;
    const url = new URL(baseUrl);
    const secure = url.protocol === "https:";
    const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
    const origin: Origin = {
      baseUrl,
      secure,
      host,
      port: url.port === "" ? (secure ? 443 : 80) : Number(url.port),
      hostHeader: url.host,
      pathPrefix: url.pathname === "/" ? "" : url.pathname,
      servername: this.#options.servername ?? (net.isIP(host) === 0 ? host : undefined),
      pool: { idle: [], open: 0, waiting: [] },
    };
    this.#origins.set(baseUrl, origin);
    return origin;
  }

  /** The request's bytes, head and body, in one buffer so that it leaves in one write. */
  #encode(origin: Origin, request: HttpRequest): Buffer {
    let head = `${request.method} ${origin.pathPrefix}${request.path} HTTP/1.1\r\nhost: ${origin.hostHeader}\r\n`;
    const headers = request.headers;
    if (headers !== undefined) {
      for (const name in headers) {
        const value = headers[name] as string;
        if (INVALID_HEADER_VALUE.test(value)) {
          throw new DynamoClientError("invalid_request", `the ${name} header's value contains characters a header cannot carry`);
        }
        head += `${name}: ${value}\r\n`;
      }
    }
    if (this.#authorization !== undefined) head += `authorization: ${this.#authorization}\r\n`;
    const body = request.body;
    if (body !== undefined) head += `content-length: ${body.length}\r\n`;
    head += "\r\n";
    const headBytes = Buffer.byteLength(head, "latin1");
    const bytes = Buffer.allocUnsafe(headBytes + (body?.length ?? 0));
    bytes.write(head, 0, "latin1");
    if (body !== undefined) body.copy(bytes, headBytes);
    return bytes;
  }

  #acquire(origin: Origin, exchange: Exchange): void {
    const pool = origin.pool;
    const now = performance.now();
    for (let connection = pool.idle.pop(); connection !== undefined; connection = pool.idle.pop()) {
      if (now - connection.idleSince < this.#options.idleSocketTimeoutMs && !connection.socket.destroyed) {
        this.#send(connection, exchange);
        return;
      }
      connection.socket.destroy();
    }
    if (pool.open < this.#options.maxSockets) this.#send(this.#connect(origin), exchange);
    else pool.waiting.push(exchange);
  }

  #connect(origin: Origin): Connection {
    const options = this.#options;
    const socket = origin.secure
      ? tls.connect({
          host: origin.host,
          port: origin.port,
          ...(options.ca !== undefined && { ca: options.ca }),
          ...(origin.servername !== undefined && { servername: origin.servername }),
          ...(this.#sessions.has(origin.baseUrl) && { session: this.#sessions.get(origin.baseUrl) }),
        })
      : net.connect({ host: origin.host, port: origin.port });
    if (origin.secure) socket.on("session", (session: Buffer) => this.#keepSession(origin.baseUrl, session));
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 1_000);
    const connection: Connection = {
      socket,
      origin,
      handshaken: false,
      reused: false,
      exchange: undefined,
      idleSince: 0,
      connectTimer: undefined,
      error: undefined,
    };
    origin.pool.open++;
    connection.connectTimer = setTimeout(() => {
      const exchange = connection.exchange;
      if (exchange !== undefined) {
        this.#fail(exchange, new DynamoClientError("network_error", `${exchange.request.method} ${describe(exchange.request)}: no connection within ${options.connectTimeoutMs} ms`, { notDelivered: true }));
      }
      socket.destroy();
    }, options.connectTimeoutMs);
    socket.once(origin.secure ? "secureConnect" : "connect", () => {
      connection.handshaken = true;
      clearTimeout(connection.connectTimer);
    });
    socket.on("data", (chunk: Buffer) => this.#onData(connection, chunk));
    socket.on("error", (error: NodeJS.ErrnoException) => {
      connection.error ??= error;
    });
    socket.on("close", () => this.#onClose(connection));
    return connection;
  }

  #keepSession(baseUrl: string, session: Buffer): void {
    this.#sessions.delete(baseUrl);
    this.#sessions.set(baseUrl, session);
    if (this.#sessions.size > SESSIONS_MAX) this.#sessions.delete(this.#sessions.keys().next().value as string);
  }

  #send(connection: Connection, exchange: Exchange): void {
    connection.exchange = exchange;
    exchange.connection = connection;
    if (connection.reused) connection.socket.ref();
    connection.socket.write(exchange.bytes);
  }

  #onData(connection: Connection, chunk: Buffer): void {
    const exchange = connection.exchange;
    if (exchange === undefined) {
      // Bytes nobody asked for: the connection's framing can no longer be trusted.
      connection.socket.destroy();
      return;
    }
    let done: ReturnType<ResponseReader["push"]>;
    try {
      done = exchange.reader.push(chunk);
    } catch (error) {
      const message = `${exchange.request.method} ${describe(exchange.request)}: ${(error as Error).message}`;
      this.#fail(exchange, new DynamoClientError("invalid_response", message, { cause: error }));
      return;
    }
    if (done === undefined) return;
    const { response, rest } = done;
    this.#settle(exchange);
    exchange.resolve(response);
    connection.exchange = undefined;
    if (response.keepAlive && rest === undefined && !this.#closed) this.#release(connection);
    else connection.socket.destroy();
  }

  #onClose(connection: Connection): void {
    clearTimeout(connection.connectTimer);
    const pool = connection.origin.pool;
    pool.open--;
    const idle = pool.idle.indexOf(connection);
    if (idle !== -1) pool.idle.splice(idle, 1);
    const exchange = connection.exchange;
    connection.exchange = undefined;
    if (exchange !== undefined && !exchange.settled) {
      let response: RawResponse | undefined;
      try {
        response = exchange.reader.end();
      } catch {
        // The response is incomplete; the failure is reported below.
      }
      if (response !== undefined) {
        this.#settle(exchange);
        exchange.resolve(response);
      } else {
        this.#fail(exchange, this.#closedError(connection, exchange));
      }
    }
    // A connection's slot is free again: a request waiting for one gets a new connection.
    const next = this.#nextWaiting(pool);
    if (next !== undefined) this.#send(this.#connect(connection.origin), next);
    // A node with no connection left is forgotten, so a long-lived client does not keep an entry for every address a
    // restarted pod ever had; the next request to it starts afresh (resuming its TLS session, kept apart).
    else if (pool.open === 0 && this.#origins.get(connection.origin.baseUrl) === connection.origin) this.#origins.delete(connection.origin.baseUrl);
  }

  /**
   * The error for an exchange whose connection closed before its response was complete, and whether the request
   * provably never reached the node's handlers (`notDelivered`, which lets a write move on to another node):
   * - the connection never finished its handshake: no byte of the request left;
   * - the connection was refused or had no route: it never opened;
   * - the node's kernel reset the connection before any answer (ECONNRESET or EPIPE from a read or write, so with a
   *   `syscall`): a kernel resets a connection it closes only when bytes sent on it were never read, so the process
   *   never read the whole request. A stopping node does this to the connections still in its accept queue when it
   *   closes its listener: over plain TCP the client has already sent the request on them. A node that read the
   *   request and then closed the connection, or crashed, closes it with a FIN: that request may have been stored, and
   *   it counts as delivered;
   * - a kept-alive connection failed before any answer, a plain close included: the node closed it as the request went
   *   out (it closes idle connections when it shuts down, and node:http's documentation names this race as the one to
   *   retry). A node that crashed while serving a request on a kept-alive connection looks the same; that is the price
   *   of not failing a planned restart.
   */
  #closedError(connection: Connection, exchange: Exchange): DynamoClientError {
    const cause = connection.error;
    const code = cause?.code;
    const answered = exchange.reader.started;
    let notDelivered = false;
    if (!answered) {
      if (!connection.handshaken || connection.reused) notDelivered = true;
      else if (code === "ECONNREFUSED" || code === "EHOSTUNREACH" || code === "ENETUNREACH" || code === "EHOSTDOWN") notDelivered = true;
      else if ((code === "ECONNRESET" || code === "EPIPE") && cause?.syscall !== undefined) notDelivered = true;
    }
    const reason = cause === undefined ? (answered ? "connection closed mid-response" : "socket hang up") : (code ?? cause.message);
    return new DynamoClientError("network_error", `${exchange.request.method} ${describe(exchange.request)}: ${reason}`, {
      ...(cause !== undefined && { cause }),
      notDelivered,
    });
  }

  #release(connection: Connection): void {
    connection.reused = true;
    const pool = connection.origin.pool;
    const next = this.#nextWaiting(pool);
    if (next !== undefined) {
      this.#send(connection, next);
      return;
    }
    connection.idleSince = performance.now();
    // An idle connection must not keep the process alive, as node:http's agent does not either.
    connection.socket.unref();
    pool.idle.push(connection);
    this.#sweeper ??= setInterval(() => this.#sweep(), Math.max(100, this.#options.idleSocketTimeoutMs / 4)).unref();
  }

  #nextWaiting(pool: Pool): Exchange | undefined {
    for (let exchange = pool.waiting.shift(); exchange !== undefined; exchange = pool.waiting.shift()) {
      if (!exchange.settled) return exchange;
    }
    return undefined;
  }

  /** Closes connections idle for longer than the idle timeout; stops itself once no connection is idle. */
  #sweep(): void {
    const oldest = performance.now() - this.#options.idleSocketTimeoutMs;
    let idle = 0;
    for (const origin of this.#origins.values()) {
      const pool = origin.pool;
      for (const connection of pool.idle.filter((c) => c.idleSince <= oldest)) connection.socket.destroy();
      idle += pool.idle.length;
    }
    if (idle === 0) {
      clearInterval(this.#sweeper);
      this.#sweeper = undefined;
    }
  }

  #settle(exchange: Exchange): void {
    exchange.settled = true;
    clearTimeout(exchange.timer);
  }

  /** Fails an exchange once; its connection, if it has one, is closed, since its framing is lost. */
  #fail(exchange: Exchange, error: DynamoClientError): void {
    if (exchange.settled) return;
    this.#settle(exchange);
    const connection = exchange.connection;
    if (connection !== undefined && connection.exchange === exchange) {
      connection.exchange = undefined;
      connection.socket.destroy();
    }
    exchange.reject(error);
  }
}

function describe(request: HttpRequest): string {
  return `${request.baseUrl}${request.path}`;
}
