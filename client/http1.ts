/**
 * The client's reader of HTTP/1.1 responses: bytes in as the socket delivers them, one complete response out. It is
 * pure (no sockets, no timers), so every framing case is unit-tested with literal bytes, and it takes the subset of
 * HTTP/1.1 a client that sends one request at a time needs: a status line, headers, and a body framed by
 * Content-Length, by chunked transfer coding, or by the connection's end; interim 1xx responses are skipped. Anything
 * else (a malformed line, a header section or chunk line beyond its bound, a body beyond the caller's bound) is an
 * error that names what was wrong, and the connection is not used again.
 */
import type { RawResponse } from "./response.js";

/** What the reader hands back once a response is complete: the response, and whether its connection may be reused. */
export interface ParsedResponse extends RawResponse {
  /** Whether the connection may carry another request: HTTP/1.1 without `Connection: close`, and a framed body. */
  keepAlive: boolean;
}

/** Raised for bytes that are not a valid response; the message says what and where. */
export class ResponseFramingError extends Error {
  override readonly name = "ResponseFramingError";
}

/** Raised when a response's body is larger than the reader's bound. */
export class ResponseTooLargeError extends Error {
  override readonly name = "ResponseTooLargeError";
}

/** Node's own bound on a response's header section (`--max-http-header-size`). */
export const HEADER_BYTES_MAX = 16 * 1024;
/** A chunk-size line is a hexadecimal number and optional extensions; anything this long is not one. */
const CHUNK_LINE_BYTES_MAX = 1024;
const CRLF = Buffer.from("\r\n", "latin1");
const HEAD_END = Buffer.from("\r\n\r\n", "latin1");
const STATUS_LINE = /^HTTP\/1\.([01]) ([1-9]\d\d)(?: [^\r\n]*)?$/;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/**
 * Control characters other than a tab. In a status line or a field they make it malformed: a lone CR or LF there is
 * a line end to some parsers and not to others, which would read the fields, and so the body's framing, otherwise.
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_CHAR = /[\x00-\x08\x0a-\x1f\x7f]/;
/** Headers node:http keeps the first of when repeated, instead of joining them. */
const SINGLE_VALUED = new Set([
  "age", "authorization", "content-length", "content-type", "etag", "expires", "from", "host", "if-modified-since",
  "if-unmodified-since", "last-modified", "location", "max-forwards", "proxy-authorization", "referer", "retry-after",
  "server", "user-agent",
]); // prettier-ignore

type BodyFraming = { kind: "length"; remaining: number } | { kind: "chunked" } | { kind: "close" };

/**
 * Reads one response. `push` returns undefined until the response is complete, then the response and whatever bytes
 * followed it (which a client sending one request at a time never expects, and treats as a broken connection).
 * `end` is called when the connection ends: it completes a body framed by the connection's end, and is an error
 * otherwise.
 */
export class ResponseReader {
  readonly #bodyBytesMax: number;
  #pending: Buffer | undefined;
  #status = 0;
  #headers: Record<string, string | string[] | undefined> = {};
  #keepAlive = false;
  #framing: BodyFraming | undefined;
  #chunkState: "size" | "data" | "data-end" | "trailers" = "size";
  #chunkRemaining = 0;
  #trailerBytes = 0;
  readonly #body: Buffer[] = [];
  #bodyBytes = 0;
  /** Whether any byte of a response has arrived; a failure after that cannot mean the request went unread. */
  started = false;

  constructor(options: { bodyBytesMax: number }) {
    this.#bodyBytesMax = options.bodyBytesMax;
  }

  push(chunk: Buffer): { response: ParsedResponse; rest: Buffer | undefined } | undefined {
    if (chunk.length > 0) this.started = true;
    let data = this.#pending === undefined ? chunk : Buffer.concat([this.#pending, chunk]);
    this.#pending = undefined;
    while (this.#framing === undefined) {
      const end = data.indexOf(HEAD_END);
      if (end === -1) {
        if (data.length > HEADER_BYTES_MAX) throw new ResponseFramingError(`response header section exceeds ${HEADER_BYTES_MAX} bytes`);
        this.#pending = data;
        return undefined;
      }
      if (end > HEADER_BYTES_MAX) throw new ResponseFramingError(`response header section exceeds ${HEADER_BYTES_MAX} bytes`);
      const interim = this.#readHead(data.toString("latin1", 0, end));
      data = data.subarray(end + HEAD_END.length);
      if (!interim) break;
    }
    return this.#readBody(data);
  }

  end(): ParsedResponse {
    if (this.#framing?.kind !== "close") {
      throw new ResponseFramingError(this.started ? "connection closed mid-response" : "connection closed before a response");
    }
    return this.#response(false);
  }

  /** Parses a header section; true when it was an interim (1xx) response, whose headers are dropped. */
  #readHead(head: string): boolean {
    const lines = head.split("\r\n");
    const statusLine = CONTROL_CHAR.test(lines[0] as string) ? null : STATUS_LINE.exec(lines[0] as string);
    if (statusLine === null) throw new ResponseFramingError(`malformed status line ${JSON.stringify((lines[0] as string).slice(0, 100))}`);
    const minor = statusLine[1] as string;
    const status = Number(statusLine[2]);
    if (status === 101) throw new ResponseFramingError("unexpected 101 Switching Protocols");
    if (status < 200) return true;
    const headers: Record<string, string | string[] | undefined> = Object.create(null) as Record<string, string | string[] | undefined>;
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i] as string;
      const name = fieldName(line);
      if (name === undefined) throw new ResponseFramingError(`malformed header line ${JSON.stringify(line.slice(0, 100))}`);
      const colon = name.length;
      const value = line.slice(colon + 1).trim();
      // The framing fields are taken only in their plain spelling: Node.js 20's parser refuses a tab around them and a
      // second Content-Length even with the same value, and a reader that took them would frame what it refuses.
      if ((name === "content-length" || name === "transfer-encoding") && line.includes("\t", colon)) {
        throw new ResponseFramingError(`malformed ${name} header line ${JSON.stringify(line.slice(0, 100))}`);
      }
      const seen = headers[name];
      if (seen === undefined) headers[name] = name === "set-cookie" ? [value] : value;
      else if (Array.isArray(seen)) seen.push(value);
      else if (!SINGLE_VALUED.has(name)) headers[name] = `${seen}, ${value}`;
      else if (name === "content-length") throw new ResponseFramingError(`more than one Content-Length header (${seen} and ${value})`);
    }
    this.#status = status;
    this.#headers = headers;
    const connection = typeof headers["connection"] === "string" ? headers["connection"].toLowerCase() : "";
    this.#keepAlive = minor === "1" ? !hasToken(connection, "close") : hasToken(connection, "keep-alive");
    this.#framing = this.#bodyFraming(status, headers);
    return false;
  }

  #bodyFraming(status: number, headers: Record<string, string | string[] | undefined>): BodyFraming {
    const coding = headers["transfer-encoding"];
    const length = headers["content-length"];
    // Both framings at once is how a response is read one way by one parser and another way by the next.
    if (coding !== undefined && length !== undefined) throw new ResponseFramingError("response has both Transfer-Encoding and Content-Length");
    // A malformed length is an error even on a response without a body, as it is to Node's parser.
    if (typeof length === "string" && !/^\d{1,15}$/.test(length)) throw new ResponseFramingError(`malformed Content-Length ${JSON.stringify(length.slice(0, 100))}`);
    // The client sends no HEAD, so only these statuses have a response without a body.
    if (status === 204 || status === 304) return { kind: "length", remaining: 0 };
    if (typeof coding === "string") {
      if (lastToken(coding.toLowerCase()) === "chunked") return { kind: "chunked" };
      this.#keepAlive = false;
      return { kind: "close" };
    }
    if (typeof length === "string") {
      const bytes = Number(length);
      if (bytes > this.#bodyBytesMax) throw new ResponseTooLargeError(`response body of ${bytes} bytes exceeds ${this.#bodyBytesMax}`);
      return { kind: "length", remaining: bytes };
    }
    this.#keepAlive = false;
    return { kind: "close" };
  }

  #readBody(data: Buffer): { response: ParsedResponse; rest: Buffer | undefined } | undefined {
    const framing = this.#framing as BodyFraming;
    if (framing.kind === "close") {
      this.#take(data);
      return undefined;
    }
    if (framing.kind === "length") {
      const taken = Math.min(framing.remaining, data.length);
      this.#take(data.subarray(0, taken));
      framing.remaining -= taken;
      if (framing.remaining > 0) return undefined;
      return { response: this.#response(this.#keepAlive), rest: taken < data.length ? data.subarray(taken) : undefined };
    }
    return this.#readChunks(data);
  }

  #readChunks(input: Buffer): { response: ParsedResponse; rest: Buffer | undefined } | undefined {
    let data = input;
    for (;;) {
      if (this.#chunkState === "data") {
        const taken = Math.min(this.#chunkRemaining, data.length);
        this.#take(data.subarray(0, taken));
        this.#chunkRemaining -= taken;
        data = data.subarray(taken);
        if (this.#chunkRemaining > 0) return undefined;
        this.#chunkState = "data-end";
        continue;
      }
      const lineEnd = data.indexOf(CRLF);
      if (lineEnd === -1) {
        const bound = this.#chunkState === "trailers" ? HEADER_BYTES_MAX - this.#trailerBytes : CHUNK_LINE_BYTES_MAX;
        if (data.length > bound) throw new ResponseFramingError(`chunked response: a ${this.#chunkState === "trailers" ? "trailer section" : "chunk line"} too long`);
        if (data.length > 0) this.#pending = data;
        return undefined;
      }
      const line = data.toString("latin1", 0, lineEnd);
      data = data.subarray(lineEnd + CRLF.length);
      if (this.#chunkState === "data-end") {
        if (line !== "") throw new ResponseFramingError("chunked response: chunk data not followed by CRLF");
        this.#chunkState = "size";
      } else if (this.#chunkState === "size") {
        if (line.length > CHUNK_LINE_BYTES_MAX) throw new ResponseFramingError("chunked response: a chunk line too long");
        // No space before an extension: Node.js 20's parser refuses it, and a reader that took it would frame what it refuses.
        const size = CONTROL_CHAR.test(line) ? null : /^([0-9a-fA-F]{1,12})(?:;.*)?$/.exec(line);
        if (size === null) throw new ResponseFramingError(`chunked response: malformed chunk size ${JSON.stringify(line.slice(0, 100))}`);
        this.#chunkRemaining = parseInt(size[1] as string, 16);
        if (this.#bodyBytes + this.#chunkRemaining > this.#bodyBytesMax) {
          throw new ResponseTooLargeError(`response body exceeds ${this.#bodyBytesMax} bytes`);
        }
        this.#chunkState = this.#chunkRemaining === 0 ? "trailers" : "data";
      } else {
        this.#trailerBytes += line.length + CRLF.length;
        if (this.#trailerBytes > HEADER_BYTES_MAX) throw new ResponseFramingError("chunked response: a trailer section too long");
        // Trailer fields are dropped, but read as strictly as the header's: they end the response.
        if (line !== "" && fieldName(line) === undefined) {
          throw new ResponseFramingError(`chunked response: malformed trailer line ${JSON.stringify(line.slice(0, 100))}`);
        }
        if (line === "") return { response: this.#response(this.#keepAlive), rest: data.length > 0 ? data : undefined };
      }
    }
  }

  #take(bytes: Buffer): void {
    if (bytes.length === 0) return;
    this.#bodyBytes += bytes.length;
    if (this.#bodyBytes > this.#bodyBytesMax) throw new ResponseTooLargeError(`response body exceeds ${this.#bodyBytesMax} bytes`);
    this.#body.push(bytes);
  }

  #response(keepAlive: boolean): ParsedResponse {
    const body = this.#body.length === 1 ? (this.#body[0] as Buffer) : Buffer.concat(this.#body, this.#bodyBytes);
    return { status: this.#status, headers: this.#headers, body, keepAlive };
  }
}

/** A field line's name in lower case, or undefined when the line is not `token ":" value` without control characters. */
function fieldName(line: string): string | undefined {
  const colon = line.indexOf(":");
  if (colon <= 0 || CONTROL_CHAR.test(line)) return undefined;
  const name = line.slice(0, colon);
  return TOKEN.test(name) ? name.toLowerCase() : undefined;
}

function hasToken(list: string, token: string): boolean {
  return list.split(",").some((part) => part.trim() === token);
}

function lastToken(list: string): string {
  const parts = list.split(",");
  return (parts[parts.length - 1] as string).trim();
}
