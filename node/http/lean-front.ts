/**
 * The client port's own HTTP/1.1 front for the key-value hot path.
 *
 * Node's HTTP server builds a readable stream for every request and a writable one for every answer, and walks them
 * through its stream machinery; for a 1 KiB read that is a large share of what a node spends on it
 * (docs/performance.md, round 35). This front reads a connection's bytes itself and, for a request that is plain and
 * wholly arrived (GET, PUT or DELETE under `/v1/kv/`, HTTP/1.1, a Content-Length body no larger than a value may be, no
 * `Expect`, no `Transfer-Encoding`, no `Upgrade`, no header given twice, at most the header count the port accepts),
 * gives the port's request listener two light objects with the part of the request and response API that the key-value
 * path uses, and writes the answer as one buffer, with the headers Node would write.
 *
 * A request that arrives in pieces (a value larger than a TCP segment, a client that writes its head and its body
 * apart) is waited for, up to a second, 64 KiB and 8 reads, with its bytes held as they came. Everything else is
 * Node's: at the first request that is not plain, or has not arrived by then, the connection is handed to Node's HTTP
 * server with the bytes not yet served put back in front of the socket, and stays there for the rest of its life. Node
 * then applies every rule of the port (client-server.ts): the header deadline, the 100-continue checks, chunked bodies,
 * oversized heads, the JSON errors. A hand-over happens only between requests, so requests on one connection still take
 * effect in the order they were sent.
 */
import { EventEmitter } from "node:events";
import { STATUS_CODES, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeader, type RequestListener, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { KV_PREFIX } from "./request.js";

export interface LeanFrontOptions {
  /** A body larger than this is left to Node's server, whose body reader refuses it with the API's error. */
  bodyBytesMax: number;
  /** Header fields a request may carry; a request with more goes to Node's server, which refuses it (431). */
  headersMax: number;
  /** A connection that sends nothing for this long after it opens is answered 408 and closed, as Node's server does. */
  headersTimeoutMs: number;
  /** How long a connection may stay idle between requests. */
  keepAliveTimeoutMs: number;
  /** Whether this connection may be served here at all (one over the connection limit goes to Node's server). */
  admits: (socket: Socket) => boolean;
  /** Hands the connection to Node's HTTP server. */
  handOver: (socket: Socket) => void;
  /** Answers a connection that timed out before its first request, in the API's shape. */
  timedOut: (socket: Socket) => void;
}

/** The request heads Node's server would parse at most; a longer one goes to it, and it answers 431. */
const HEAD_BYTES_MAX = 16 * 1024;
/** Bytes held for a connection while one of its requests is served; past this its socket stops reading until then. */
const HELD_BYTES_MAX = 64 * 1024;
/**
 * How long a request that is arriving in pieces is waited for before its connection goes to Node's server, whose
 * header and body deadlines then apply; at most half the header deadline, so a slow client meets Node's soon.
 */
const PIECES_WAIT_MS_MAX = 1000;
/**
 * Reads of one request's pieces waited for; past them its connection goes. Each read joins the bytes held so far, so
 * a client dribbling a request in tiny segments would otherwise cost a copy of up to 64 KiB per segment.
 */
const PIECES_MAX = 8;
/** The starts of the request lines the front serves, to tell a head still arriving from one it would never serve. */
const SERVED_STARTS = ["GET /v1/kv/", "PUT /v1/kv/", "DELETE /v1/kv/"];
/** A body up to this size leaves in the same buffer as the head; a larger one is written after it, not copied. */
const COPIED_BODY_BYTES_MAX = 16 * 1024;

const EMPTY = Buffer.alloc(0);
const HEAD_END = Buffer.from("\r\n\r\n", "latin1");
/** Characters Node refuses in an answer's header value. */
const INVALID_VALUE_CHAR = /[^\t\x20-\x7e\x80-\xff]/;

/**
 * Serves the connections given to `accept` (the client server calls it in place of Node's own listener for new
 * connections): what it can itself, the rest through `options.handOver`. The server's `closeIdleConnections` and
 * `closeAllConnections` call its `closeIdle` and `closeAll`, so that closing the server closes its connections too.
 */
export class LeanFront {
  readonly #connections = new Set<LeanConnection>();
  #closing = false;
  /** What an answer on a connection that stays open says of it, as Node's server says it. */
  readonly keepAlive: string;

  constructor(
    readonly listener: RequestListener,
    readonly options: LeanFrontOptions,
  ) {
    this.keepAlive = `Connection: keep-alive\r\nKeep-Alive: timeout=${Math.floor(options.keepAliveTimeoutMs / 1000)}\r\n`;
  }

  accept(socket: Socket): void {
    if (this.#closing || !this.options.admits(socket)) {
      this.options.handOver(socket);
      return;
    }
    this.#connections.add(new LeanConnection(socket, this));
  }

  get closing(): boolean {
    return this.#closing;
  }

  /** Closes the connections with nothing in progress; the others close once their answer is written. */
  closeIdle(): void {
    this.#closing = true;
    for (const connection of this.#connections) connection.closeIfIdle();
  }

  closeAll(): void {
    this.#closing = true;
    for (const connection of this.#connections) connection.socket.destroy();
  }

  forget(connection: LeanConnection): void {
    this.#connections.delete(connection);
  }
}

/** A request head the front serves. */
interface Head {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  /** Where the body starts, and where the request ends, in the connection's bytes. */
  bodyStart: number;
  end: number;
}

class LeanConnection {
  /** Bytes received and not yet served. */
  #held: Buffer = EMPTY;
  #busy = false;
  #served = false;
  #ended = false;
  #current: LeanResponse | undefined;
  /** Running while the request at the front of `#held` is arriving in pieces; when it fires, the connection goes. */
  #piecesTimer: NodeJS.Timeout | undefined;
  /** Reads of the request at the front of `#held` while it arrives in pieces. */
  #pieces = 0;
  /** The socket's inactivity timeout now: set only when it changes, since setting it re-arms a timer (round 37). */
  #timeoutMs: number;

  constructor(
    readonly socket: Socket,
    readonly front: LeanFront,
  ) {
    socket.setNoDelay(true);
    socket.on("data", this.#onData);
    socket.on("end", this.#onEnd);
    socket.on("close", this.#onClose);
    socket.on("error", this.#onError);
    socket.on("timeout", this.#onTimeout);
    this.#timeoutMs = front.options.headersTimeoutMs;
    socket.setTimeout(this.#timeoutMs);
  }

  closeIfIdle(): void {
    if (!this.#busy) this.socket.destroy();
  }

  /** Called by the response once its bytes are handed to the socket. */
  answered(closeAfter: boolean): void {
    this.#current = undefined;
    if (closeAfter || this.front.closing) {
      this.#release();
      this.socket.end();
      return;
    }
    this.#busy = false;
    this.#next();
  }

  readonly #onData = (chunk: Buffer): void => {
    this.#held = this.#held.length === 0 ? chunk : Buffer.concat([this.#held, chunk]);
    if (!this.#busy) this.#next();
    else if (this.#held.length > HELD_BYTES_MAX) this.socket.pause();
  };

  readonly #onEnd = (): void => {
    this.#ended = true;
    if (!this.#busy) this.#next();
  };

  readonly #onClose = (): void => {
    this.#release();
    this.#current?.gone();
    this.#current = undefined;
  };

  readonly #onError = (): void => {
    this.socket.destroy();
  };

  readonly #onTimeout = (): void => {
    // Requests being served have no socket deadline here: the coordinator's own deadline bounds them.
    if (this.#busy) return;
    this.#release();
    if (this.#served) this.socket.destroy();
    else this.front.options.timedOut(this.socket);
  };

  /** Serves the next request if it has wholly arrived and is plain; hands the connection over if it is not. */
  #next(): void {
    const held = this.#held;
    if (held.length === 0) {
      if (this.#ended) {
        this.#release();
        this.socket.end();
        return;
      }
      // Once set, the keep-alive timeout stays: the socket restarts it at every read and write, and it is ignored
      // while a request is being served (#onTimeout).
      if (this.#served && this.#timeoutMs !== this.front.options.keepAliveTimeoutMs) {
        this.#timeoutMs = this.front.options.keepAliveTimeoutMs;
        this.socket.setTimeout(this.#timeoutMs);
      }
      if (this.socket.isPaused()) this.socket.resume();
      return;
    }
    const head = parseHead(held, this.front.options);
    if (head === undefined) {
      this.#handOver();
      return;
    }
    if (head === ARRIVING || held.length < head.end) {
      if ((head !== ARRIVING && head.end > HELD_BYTES_MAX) || this.#pieces >= PIECES_MAX || this.#ended) this.#handOver();
      else this.#awaitPieces();
      return;
    }
    this.#stopAwaiting();
    this.#held = held.length === head.end ? EMPTY : held.subarray(head.end);
    this.#busy = true;
    this.#served = true;
    if (this.socket.isPaused()) this.socket.resume();
    const req = new LeanRequest(head, this.socket, held.subarray(head.bodyStart, head.end));
    const res = new LeanResponse(req, this);
    this.#current = res;
    // As in Node's server, a listener that throws is a bug that reaches the process, not an answer.
    this.front.listener(req as unknown as IncomingMessage, res as unknown as ServerResponse);
  }

  /** Waits for the rest of a request (more data calls `#next` again), up to the front's limit. */
  #awaitPieces(): void {
    this.#pieces += 1;
    if (this.socket.isPaused()) this.socket.resume();
    if (this.#piecesTimer !== undefined) return;
    const waitMs = Math.min(PIECES_WAIT_MS_MAX, this.front.options.headersTimeoutMs / 2);
    this.#piecesTimer = setTimeout(() => {
      this.#piecesTimer = undefined;
      if (!this.#busy && this.#held.length > 0) this.#handOver();
    }, waitMs);
  }

  #stopAwaiting(): void {
    this.#pieces = 0;
    if (this.#piecesTimer === undefined) return;
    clearTimeout(this.#piecesTimer);
    this.#piecesTimer = undefined;
  }

  /** Gives the connection, and the bytes not yet served, to Node's HTTP server for the rest of its life. */
  #handOver(): void {
    const socket = this.socket;
    this.#release();
    socket.setTimeout(0);
    socket.off("data", this.#onData);
    socket.off("end", this.#onEnd);
    socket.off("close", this.#onClose);
    socket.off("error", this.#onError);
    socket.off("timeout", this.#onTimeout);
    if (this.#ended) {
      // Node's server cannot be given a connection whose client has already finished sending; what is left of a
      // request that can never be completed is dropped with the connection.
      socket.destroy();
      return;
    }
    if (this.#held.length > 0) socket.unshift(this.#held);
    this.#held = EMPTY;
    this.front.options.handOver(socket);
    if (socket.isPaused()) socket.resume();
  }

  #release(): void {
    this.#stopAwaiting();
    this.front.forget(this);
  }
}

/** The part of IncomingMessage that the client port's key-value listeners read, for a request wholly arrived. */
export class LeanRequest extends EventEmitter {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: string[];
  readonly httpVersion = "1.1";
  readonly httpVersionMajor = 1;
  readonly httpVersionMinor = 1;
  /** The body has arrived whole before the listener runs. */
  readonly complete = true;

  constructor(
    head: Head,
    readonly socket: Socket,
    readonly body: Buffer,
  ) {
    super();
    this.method = head.method;
    this.url = head.url;
    this.headers = head.headers;
    this.rawHeaders = head.rawHeaders;
  }

  pause(): this {
    return this;
  }

  resume(): this {
    return this;
  }
}

type HeaderValue = number | string | readonly string[];

/**
 * The part of ServerResponse that the client port's key-value listeners use: headers set one by one or given to
 * `writeHead`, `end` with or without a body, `destroy`, and the `finish` and `close` events, `close` exactly once.
 */
export class LeanResponse extends EventEmitter {
  statusCode = 200;
  statusMessage: string | undefined;
  headersSent = false;
  writableEnded = false;
  /** Headers set one by one, by lower-case name: the name as given and the value. */
  #set: Map<string, [string, HeaderValue]> | undefined;
  /** The answer's header fields once `writeHead` fixed them: name, value, name, value... */
  #fields: Array<string | HeaderValue> | undefined;
  #closed = false;

  constructor(
    readonly req: LeanRequest,
    private readonly connection: LeanConnection,
  ) {
    super();
  }

  setHeader(name: string, value: HeaderValue): this {
    if (this.headersSent) throw headersSentError("set");
    checkField(name, value);
    (this.#set ??= new Map()).set(name.toLowerCase(), [name, value]);
    return this;
  }

  getHeader(name: string): HeaderValue | undefined {
    return this.#set?.get(name.toLowerCase())?.[1];
  }

  hasHeader(name: string): boolean {
    return this.#set?.has(name.toLowerCase()) ?? false;
  }

  removeHeader(name: string): void {
    if (this.headersSent) throw headersSentError("remove");
    this.#set?.delete(name.toLowerCase());
  }

  /** As Node's: fields given here replace those of the same name set before, which keep their place first. */
  writeHead(status: number, reasonOrFields?: string | OutgoingHttpHeader[] | Record<string, HeaderValue>, maybeFields?: OutgoingHttpHeader[] | Record<string, HeaderValue>): this {
    if (this.headersSent) throw headersSentError("write");
    this.statusCode = status;
    let given = maybeFields;
    // As Node's, the reason phrase is fixed here, even when the fields below throw.
    if (typeof reasonOrFields === "string") {
      this.statusMessage = reasonOrFields;
    } else {
      this.statusMessage ||= STATUS_CODES[status] ?? "unknown";
      given = reasonOrFields;
    }
    const list: Array<string | HeaderValue> = given === undefined ? [] : Array.isArray(given) ? (given as HeaderValue[]) : Object.entries(given).flat();
    // As in Node's, a value that cannot go on the wire throws here, before anything is fixed, so the caller may still
    // answer with an error.
    for (let i = 0; i < list.length; i += 2) checkField(String(list[i]), list[i + 1]!);
    if (this.#set !== undefined) {
      for (let i = 0; i < list.length; i += 2) this.#set.delete(String(list[i]).toLowerCase());
      const first: Array<string | HeaderValue> = [];
      for (const [name, value] of this.#set.values()) first.push(name, value);
      this.#fields = first.concat(list);
    } else {
      this.#fields = list;
    }
    this.headersSent = true;
    return this;
  }

  end(data?: string | Buffer | (() => void), encoding?: BufferEncoding | (() => void), callback?: () => void): this {
    if (this.writableEnded) return this;
    if (typeof data === "function") [callback, data] = [data, undefined];
    if (typeof encoding === "function") [callback, encoding] = [encoding, undefined];
    this.writableEnded = true;
    if (!this.headersSent) this.writeHead(this.statusCode);
    const status = this.statusCode;
    // 204 and 304 carry no body, as in Node's server.
    const body = status === 204 || status === 304 || data === undefined ? EMPTY : typeof data === "string" ? Buffer.from(data, encoding ?? "utf8") : data;
    const front = this.connection.front;
    const { head, close } = answerHead(status, this.statusMessage, this.#fields!, body.length, front.closing, front.keepAlive);
    const socket = this.connection.socket;
    if (socket.destroyed) return this;
    const written = () => {
      callback?.();
      this.emit("finish");
      this.#close();
      this.connection.answered(close);
    };
    if (body.length <= COPIED_BODY_BYTES_MAX) {
      const bytes = Buffer.allocUnsafe(head.length + body.length);
      bytes.write(head, 0, "latin1");
      body.copy(bytes, head.length);
      socket.write(bytes, written);
    } else {
      socket.cork();
      socket.write(head, "latin1");
      socket.write(body, written);
      socket.uncork();
    }
    return this;
  }

  destroy(): this {
    this.connection.socket.destroy();
    return this;
  }

  /** The connection closed before the answer was written. */
  gone(): void {
    this.#close();
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.emit("close");
  }
}

function headersSentError(what: string): Error {
  return Object.assign(new Error(`Cannot ${what} headers after they are sent to the client`), { code: "ERR_HTTP_HEADERS_SENT" });
}

/** A head not wholly arrived yet that may still be one the front serves. */
const ARRIVING = "arriving";

/**
 * Parses the head at the start of `bytes`; says `ARRIVING` when it has not wholly arrived and may still be one the
 * front serves, and undefined when the request is not one the front serves.
 */
function parseHead(bytes: Buffer, options: LeanFrontOptions): Head | typeof ARRIVING | undefined {
  const headEnd = bytes.indexOf(HEAD_END);
  if (headEnd > HEAD_BYTES_MAX) return undefined;
  if (headEnd < 0) {
    if (bytes.length > HEAD_BYTES_MAX) return undefined;
    const start = bytes.toString("latin1", 0, Math.min(bytes.length, 14));
    return SERVED_STARTS.some((served) => served.startsWith(start) || start.startsWith(served)) ? ARRIVING : undefined;
  }
  // Latin-1 maps each byte to one character, so positions in the text are positions in the bytes.
  const text = bytes.toString("latin1", 0, headEnd);
  const methodEnd = text.indexOf(" ");
  const method = text.slice(0, methodEnd);
  if (method !== "GET" && method !== "PUT" && method !== "DELETE") return undefined;
  const urlEnd = text.indexOf(" ", methodEnd + 1);
  let lineEnd = text.indexOf("\r\n", urlEnd);
  if (lineEnd < 0) lineEnd = text.length;
  if (urlEnd < 0 || lineEnd - urlEnd !== 9 || !text.startsWith(" HTTP/1.1", urlEnd)) return undefined;
  const url = text.slice(methodEnd + 1, urlEnd);
  if (!url.startsWith(KV_PREFIX) || !allIn(url, KV_PREFIX.length, url.length, TARGET_CHAR)) return undefined;

  const headers: IncomingHttpHeaders = {};
  const rawHeaders: string[] = [];
  let length = 0;
  let count = 0;
  while (lineEnd < text.length) {
    const start = lineEnd + 2;
    lineEnd = text.indexOf("\r\n", start);
    if (lineEnd < 0) lineEnd = text.length;
    if (++count > options.headersMax) return undefined;
    const colon = text.indexOf(":", start);
    if (colon <= start || colon > lineEnd || !allIn(text, start, colon, TOKEN_CHAR)) return undefined;
    // The value without the spaces and tabs around it; what is left must be visible characters, spaces and tabs.
    let from = colon + 1;
    let to = lineEnd;
    while (from < to && isBlank(text.charCodeAt(from))) from++;
    while (to > from && isBlank(text.charCodeAt(to - 1))) to--;
    if (!allIn(text, from, to, VALUE_CHAR)) return undefined;
    const name = text.slice(start, colon);
    const value = text.slice(from, to);
    const lower = knownFieldName(name) ?? name.toLowerCase();
    // A field given twice is Node's to join or refuse by its own rules.
    if (headers[lower] !== undefined) return undefined;
    switch (lower) {
      case "content-length":
        if (value.length === 0 || value.length > 15 || !allIn(value, 0, value.length, DIGIT_CHAR)) return undefined;
        // A tab around the length is refused by Node.js 20's parser and taken by later ones': Node's to judge.
        if (text.lastIndexOf("\t", lineEnd - 1) > colon) return undefined;
        length = Number(value);
        if (length > options.bodyBytesMax || (length > 0 && method !== "PUT")) return undefined;
        break;
      case "connection":
        if (value.toLowerCase() !== "keep-alive") return undefined;
        break;
      case "transfer-encoding":
      case "expect":
      case "upgrade":
        return undefined;
    }
    headers[lower] = value;
    rawHeaders.push(name, value);
  }
  if (headers.host === undefined) return undefined;
  const bodyStart = headEnd + HEAD_END.length;
  return { method, url, headers, rawHeaders, bodyStart, end: bodyStart + length };
}

/**
 * The fields clients send on nearly every request, in the spellings they use, and their lowercased names. A name found
 * here keys the request's headers with a constant string, which V8 already holds interned; a name lowercased afresh
 * is looked up in V8's string table again when it becomes a key (about 1 µs a request, round 37).
 */
const KNOWN_SPELLINGS: string[] = [];
const KNOWN_NAMES: string[] = [];
for (const name of ["host", "content-length", "content-type", "x-dynamo-context", "authorization", "connection", "accept", "user-agent"]) {
  const canonical = name.replace(/(^|-)([a-z])/g, (_, dash: string, letter: string) => dash + letter.toUpperCase());
  for (const spelling of new Set([name, canonical])) {
    KNOWN_SPELLINGS.push(spelling);
    KNOWN_NAMES.push(name);
  }
}

function knownFieldName(name: string): string | undefined {
  for (let i = 0; i < KNOWN_SPELLINGS.length; i++) {
    if (name === KNOWN_SPELLINGS[i]) return KNOWN_NAMES[i];
  }
  return undefined;
}

/** Character classes of a request head, by Latin-1 code: 1 where the character is allowed. */
const charClass = (allowed: (code: number) => boolean): Uint8Array => Uint8Array.from({ length: 256 }, (_, code) => (allowed(code) ? 1 : 0));
/** A request target the front serves: printable ASCII only; anything else is Node's to accept or refuse. */
const TARGET_CHAR = charClass((c) => c >= 0x21 && c <= 0x7e);
/** A field name: a token (RFC 9110, 5.6.2). */
const TOKEN_CHAR = charClass((c) => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || "!#$%&'*+-.^_`|~".includes(String.fromCharCode(c)));
/** A field value: visible characters, spaces and tabs (RFC 9110, 5.5), as Node's parser takes them. */
const VALUE_CHAR = charClass((c) => c === 0x09 || (c >= 0x20 && c !== 0x7f));
const DIGIT_CHAR = charClass((c) => c >= 0x30 && c <= 0x39);

function allIn(text: string, from: number, to: number, allowed: Uint8Array): boolean {
  for (let i = from; i < to; i++) {
    if (allowed[text.charCodeAt(i)] !== 1) return false;
  }
  return true;
}

function isBlank(code: number): boolean {
  return code === 0x20 || code === 0x09;
}

/** The answer's status line and header fields as Node's server writes them, and whether the connection closes after. */
function answerHead(
  status: number,
  message: string | undefined,
  fields: Array<string | HeaderValue>,
  bodyLength: number,
  closing: boolean,
  keepAlive: string,
): { head: string; close: boolean } {
  let head = `HTTP/1.1 ${status} ${message ?? STATUS_CODES[status] ?? "unknown"}\r\n`;
  let hasDate = false;
  let hasLength = false;
  let close = closing;
  let connectionGiven = false;
  for (let i = 0; i < fields.length; i += 2) {
    const name = String(fields[i]);
    const value = fields[i + 1]!;
    switch (name.length) {
      case 4:
        if (name.toLowerCase() === "date") hasDate = true;
        break;
      case 10:
        if (name.toLowerCase() === "connection") {
          connectionGiven = true;
          if (/(?:^|,)\s*close\s*(?:,|$)/i.test(String(value))) close = true;
        }
        break;
      case 14:
        if (name.toLowerCase() === "content-length") hasLength = true;
        break;
    }
    if (Array.isArray(value)) {
      for (const one of value) head += `${name}: ${one}\r\n`;
    } else {
      head += `${name}: ${value as string | number}\r\n`;
    }
  }
  if (!hasDate) head += `Date: ${httpDate()}\r\n`;
  if (!connectionGiven) head += close ? "Connection: close\r\n" : keepAlive;
  if (!hasLength && status !== 204 && status !== 304) head += `Content-Length: ${bodyLength}\r\n`;
  return { head: head + "\r\n", close };
}

/** Throws, as Node's `setHeader` and `writeHead` do, for a value with a character an answer's field cannot carry. */
function checkField(name: string, value: string | HeaderValue): void {
  const values = Array.isArray(value) ? (value as readonly string[]) : [String(value)];
  for (const text of values) {
    if (INVALID_VALUE_CHAR.test(text)) {
      throw Object.assign(new TypeError(`Invalid character in header content ["${name}"]`), { code: "ERR_INVALID_CHAR" });
    }
  }
}

let dateSecond = -1;
let dateText = "";

/** The Date header's value, made once a second. */
function httpDate(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateText = new Date(now).toUTCString();
  }
  return dateText;
}
