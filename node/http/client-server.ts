/**
 * The client port's HTTP server: the connection-level rules that hold before any route runs.
 *
 * - Requests on one connection take effect in the order they were sent. Node parses pipelined requests as fast as they
 *   arrive and would run their handlers side by side (a DELETE with no body overtaking the PUT before it), so each
 *   connection runs one request at a time and starts the next when the previous answer is done.
 * - Connections are bounded: past `clientConnectionsMax` a new connection's first request gets 503 and the connection
 *   closes (one that sends nothing is closed after a moment).
 * - A request with more header fields than the parser keeps is refused (431), because the fields it dropped could be
 *   the context header, and a write without its context would silently become a blind write.
 * - `Expect: 100-continue` is answered only when the handler starts reading the body, after the route, bucket,
 *   authorization and declared size have been checked.
 * - Headers must arrive within `clientHeadersTimeoutMs` (408 past it); bodies have their own deadline in `readBody`.
 * - What Node's parser refuses, and an `Expect` it cannot meet, still get the API's JSON error shape.
 * - A client that ends its side of the connection after its requests still gets their answers.
 *
 * Plain key-value requests that arrive whole are served by the port's own front (lean-front.ts) without Node's
 * request and response streams; it hands a connection to Node's server at the first request it does not serve, so
 * every rule above holds either way.
 */
import type { IncomingMessage, RequestListener, Server, ServerResponse } from "node:http";
import { createServer as createHttpServer } from "node:http";
import { createServer as createHttpsServer, type ServerOptions as HttpsOptions } from "node:https";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { TLSSocket } from "node:tls";
import { DynamoError } from "../errors/index.js";
import { closeIfBodyUnread, hasBody } from "./body.js";
import { LeanFront } from "./lean-front.js";

/** Header fields a request may carry; one more and it is refused rather than silently truncated. */
export const CLIENT_HEADERS_MAX = 100;

export interface ClientServerLimits {
  connectionsMax: number;
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  /** The coordinator's own deadline, which bounds how long a request may keep the connection busy. */
  requestTimeoutMs: number;
  /** The largest value; a larger body is read, and refused, by Node's server. */
  valueMaxBytes: number;
}

/** Per-connection state: whether a request is running, and the requests that arrived behind it. */
interface ConnectionQueue {
  busy: boolean;
  waiting: Array<[IncomingMessage, ServerResponse]>;
}

/** What the port reports: connections its own reader handed to Node's server. */
export interface ClientServerCounters {
  connectionsHandedOver: { inc(): void };
}

export function createClientServer(app: RequestListener, limits: ClientServerLimits, tls?: HttpsOptions, counters?: ClientServerCounters): Server {
  const queues = new WeakMap<Duplex, ConnectionQueue>();
  const overCapacity = new WeakSet<Duplex>();
  let open = 0;

  const run = (queue: ConnectionQueue, req: IncomingMessage, res: ServerResponse): void => {
    queue.busy = true;
    res.once("close", () => {
      const next = queue.waiting.shift();
      if (next && !req.socket.destroyed) run(queue, next[0], next[1]);
      else queue.busy = false;
    });
    const refusal = refuse(req, overCapacity, limits);
    if (refusal) {
      sendRaw(req, res, refusal[0], refusal[1]);
      return;
    }
    // A body on a request that takes none is never read, so its connection cannot be reused after the answer.
    if (req.method !== "PUT" && hasBody(req)) res.setHeader("Connection", "close");
    app(req, res);
  };

  const dispatch = (req: IncomingMessage, res: ServerResponse): void => {
    let queue = queues.get(req.socket);
    if (!queue) {
      queue = { busy: false, waiting: [] };
      queues.set(req.socket, queue);
    }
    if (queue.busy) queue.waiting.push([req, res]);
    else run(queue, req, res);
  };

  const options = {
    headersTimeout: limits.headersTimeoutMs,
    // Node's own deadline for a whole request is a backstop behind the body deadline and the coordinator's timeout.
    requestTimeout: limits.headersTimeoutMs + limits.bodyTimeoutMs + 2 * limits.requestTimeoutMs,
    // How often Node looks for connections past those deadlines; its default of 30 s would make them 30 s late.
    connectionsCheckingInterval: 1000,
    maxHeaderSize: 16 * 1024,
    // Node would answer a missing Host with a bare 400; `refuse` answers it in the API's JSON shape instead.
    requireHostHeader: false,
  };
  const server = tls
    ? createHttpsServer({ ...options, ...tls, handshakeTimeout: limits.headersTimeoutMs }, dispatch)
    : createHttpServer(options, dispatch);
  server.maxHeadersCount = CLIENT_HEADERS_MAX + 1;
  // A client that ends its side after its last request (`printf ... | nc`, scripts) still gets its answers; Node's
  // default would drop them. Answered, the connection closes; bodies never finished still meet their deadline.
  // The flag is http.Server's own field, missing from its type declarations.
  Object.assign(server, { httpAllowHalfOpen: true });
  server.on("checkExpectation", refuseExpectation);
  // Keep-alive sockets must outlive a load balancer's idle timeout, or clients see resets on reuse.
  server.keepAliveTimeout = 65_000;
  server.on("checkContinue", dispatch);
  server.on("clientError", answerClientError);
  server.on("connection", (socket: Socket) => {
    open += 1;
    socket.once("close", () => (open -= 1));
    if (open > limits.connectionsMax && !tls) markOverCapacity(socket, overCapacity, limits);
  });
  if (tls) {
    // A TLS connection is only readable as HTTP once its handshake is done; it counts from its first byte all the same.
    server.on("secureConnection", (socket: TLSSocket) => {
      if (open > limits.connectionsMax) markOverCapacity(socket, overCapacity, limits);
    });
  }
  serveThroughFront(server, tls ? "secureConnection" : "connection", app, limits, overCapacity, counters);
  return server;
}

/**
 * Puts the lean front in place of Node's own listener for new connections (after the listeners above, which count
 * them), gives it that listener to hand connections over to, and makes the server's closing close its connections too.
 */
function serveThroughFront(
  server: Server,
  event: "connection" | "secureConnection",
  app: RequestListener,
  limits: ClientServerLimits,
  overCapacity: WeakSet<Duplex>,
  counters: ClientServerCounters | undefined,
): void {
  const nodeListener = server.listeners(event)[0] as ((socket: Socket) => void) | undefined;
  if (nodeListener === undefined) throw new Error(`the client server has no '${event}' listener of Node's own`);
  server.removeListener(event, nodeListener);
  const front = new LeanFront(app, {
    bodyBytesMax: limits.valueMaxBytes,
    headersMax: CLIENT_HEADERS_MAX,
    headersTimeoutMs: limits.headersTimeoutMs,
    keepAliveTimeoutMs: server.keepAliveTimeout,
    admits: (socket) => !overCapacity.has(socket),
    handOver: (socket) => {
      counters?.connectionsHandedOver.inc();
      nodeListener.call(server, socket);
    },
    timedOut: (socket) => answerClientError(Object.assign(new Error("request timeout"), { code: "ERR_HTTP_REQUEST_TIMEOUT" }), socket),
  });
  server.on(event, (socket: Socket) => front.accept(socket));
  // Node's `close` closes the idle connections it knows through `closeIdleConnections`; the front's are closed with them.
  const closeIdle = server.closeIdleConnections.bind(server);
  const closeAll = server.closeAllConnections.bind(server);
  server.closeIdleConnections = () => {
    closeIdle();
    front.closeIdle();
  };
  server.closeAllConnections = () => {
    closeAll();
    front.closeAll();
  };
}

function markOverCapacity(socket: Duplex, overCapacity: WeakSet<Duplex>, limits: ClientServerLimits): void {
  overCapacity.add(socket);
  setTimeout(() => socket.destroy(), Math.min(2000, limits.headersTimeoutMs)).unref();
}

/** The status and error a request is refused with before it reaches a route, if it is. */
function refuse(req: IncomingMessage, overCapacity: WeakSet<Duplex>, limits: ClientServerLimits): [number, DynamoError] | undefined {
  if (overCapacity.has(req.socket)) {
    const message = `this node has more than ${limits.connectionsMax} client connections open (tuning.clientConnectionsMax); retry later or use another node`;
    return [503, new DynamoError("unavailable", message)];
  }
  if (req.rawHeaders.length > 2 * CLIENT_HEADERS_MAX) {
    return [431, new DynamoError("invalid_request", `the request has more than ${CLIENT_HEADERS_MAX} header fields`)];
  }
  if (req.headers.host === undefined && req.httpVersion === "1.1") {
    return [400, new DynamoError("invalid_request", "an HTTP/1.1 request needs a Host header")];
  }
  return undefined;
}

/** An error answer written without the express app, closing the connection when it should. */
function sendRaw(req: IncomingMessage, res: ServerResponse, status: number, err: DynamoError): void {
  closeIfBodyUnread(req, res);
  if (status === 503) res.setHeader("Connection", "close");
  const body = JSON.stringify(err.toJSON());
  res.writeHead(status, { "Content-Type": "application/json; charset=utf-8", "Content-Length": Buffer.byteLength(body) });
  res.end(body);
}

/** An `Expect` other than 100-continue cannot be met: 417, as Node would answer, but in the API's JSON shape. */
function refuseExpectation(req: IncomingMessage, res: ServerResponse): void {
  const err = new DynamoError("invalid_request", `cannot meet 'Expect: ${String(req.headers.expect).slice(0, 80)}'; only 100-continue is supported`);
  sendRaw(req, res, 417, err);
}

/**
 * Requests Node's HTTP parser rejects before any handler runs (headers over 16 KiB, a broken request line, headers
 * or a whole request that took too long) still get the API's JSON error shape rather than a bare status line.
 */
export function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  // An answer already under way on this connection cannot be followed by another one; the connection just ends.
  const busy = (socket as { _httpMessage?: unknown })._httpMessage !== undefined && (socket as { _httpMessage?: unknown })._httpMessage !== null;
  if (!socket.writable || busy || err.code === "ECONNRESET") {
    socket.destroy();
    return;
  }
  const [status, error, message] =
    err.code === "HPE_HEADER_OVERFLOW"
      ? ["431 Request Header Fields Too Large", "invalid_request", "request headers exceed 16 KiB"]
      : err.code === "ERR_HTTP_REQUEST_TIMEOUT"
        ? ["408 Request Timeout", "request_timeout", "the request did not arrive in time"]
        : ["400 Bad Request", "invalid_request", `malformed HTTP request (${String(err.code ?? "parse error").slice(0, 40)})`];
  const body = JSON.stringify({ error, message });
  socket.end(
    `HTTP/1.1 ${status}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
