/**
 * HTTP/1.1 over a bare socket, for tests that must control the bytes on the wire: pipelined requests, bodies shorter
 * than their Content-Length, chunked bodies that never end, `Expect: 100-continue`. The response parser understands
 * exactly what the node sends (status line, headers, a Content-Length or chunked body) and nothing more.
 */
import { connect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  json(): { error?: string; message?: string } & Record<string, unknown>;
}

/** One request's bytes, with a Content-Length computed from the body unless headers name their own framing. */
export function requestBytes(method: string, path: string, headers: Record<string, string> = {}, body?: Buffer | string): Buffer {
  const payload = body === undefined ? Buffer.alloc(0) : Buffer.from(body);
  const lines = [`${method} ${path} HTTP/1.1`, "Host: test"];
  const named = new Set(Object.keys(headers).map((h) => h.toLowerCase()));
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  if (!named.has("content-length") && !named.has("transfer-encoding") && (body !== undefined || method === "PUT")) {
    lines.push(`Content-Length: ${payload.length}`);
  }
  return Buffer.concat([Buffer.from(lines.join("\r\n") + "\r\n\r\n", "latin1"), payload]);
}

/** A client connection that collects everything the server sends and parses it into responses on demand. */
export class RawConnection {
  private buffer = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  closed = false;
  /** Bytes written to the socket before the server stopped accepting them. */
  written = 0;

  private constructor(readonly socket: Socket) {
    socket.on("data", (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.wake();
    });
    socket.on("close", () => {
      this.closed = true;
      this.wake();
    });
    socket.on("error", () => undefined);
  }

  /** Connects to a node's client port; an `https` URL is reached over TLS, trusting `ca`. */
  static async open(baseUrl: string, ca?: Buffer): Promise<RawConnection> {
    const url = new URL(baseUrl);
    const secure = url.protocol === "https:";
    const socket = secure ? tlsConnect({ host: url.hostname, port: Number(url.port), ca, servername: "localhost" }) : connect({ host: url.hostname, port: Number(url.port) });
    await new Promise<void>((resolve, reject) => {
      socket.once(secure ? "secureConnect" : "connect", resolve);
      socket.once("error", reject);
    });
    return new RawConnection(socket);
  }

  write(bytes: Buffer | string): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.destroyed || !this.socket.writable) return resolve();
      this.socket.write(bytes, (err) => {
        if (!err) this.written += Buffer.byteLength(bytes);
        resolve();
      });
    });
  }

  /** Waits until `count` complete responses (100 Continue included) have arrived, or the socket closes, or time runs out. */
  async responses(count: number, timeoutMs = 15_000): Promise<RawResponse[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const parsed = parseResponses(this.buffer);
      if (parsed.length >= count || this.closed || Date.now() > deadline) return parsed;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Resolves once the server has closed the connection; false when it is still open after `timeoutMs`. */
  async closedWithin(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.closed;
  }

  get received(): Buffer {
    return this.buffer;
  }

  /** Ends the sending side: the server sees the end of the stream, answers what it can and closes. */
  finish(): void {
    if (!this.socket.destroyed) this.socket.end();
  }

  close(): void {
    this.socket.destroy();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

/** Sends bytes on a fresh connection and returns the first `count` responses. */
export async function exchange(baseUrl: string, bytes: Buffer | string, count: number, timeoutMs = 15_000): Promise<RawResponse[]> {
  const conn = await RawConnection.open(baseUrl);
  try {
    await conn.write(bytes);
    return await conn.responses(count, timeoutMs);
  } finally {
    conn.close();
  }
}

/**
 * Every complete response at the start of `data`; an incomplete tail is left unparsed. `bodiless` says which final
 * responses (counted from 0, 1xx not counted) answer a HEAD request and so carry no body whatever their headers say.
 */
export function parseResponses(data: Buffer, bodiless: (index: number) => boolean = () => false): RawResponse[] {
  return splitResponses(data, bodiless).responses;
}

/** The whole responses at the start of `data`, and how many bytes they took. */
export function splitResponses(data: Buffer, bodiless: (index: number) => boolean = () => false): { responses: RawResponse[]; consumed: number } {
  const out: RawResponse[] = [];
  let finals = 0;
  let offset = 0;
  for (;;) {
    const end = data.indexOf("\r\n\r\n", offset, "latin1");
    if (end < 0) return { responses: out, consumed: offset };
    const head = data.subarray(offset, end).toString("latin1").split("\r\n");
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head[0] ?? "")?.[1] ?? NaN);
    if (!Number.isFinite(status)) return { responses: out, consumed: offset };
    const headers: Record<string, string> = {};
    for (const line of head.slice(1)) {
      const colon = line.indexOf(":");
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    let cursor = end + 4;
    let body: Buffer;
    const informational = status >= 100 && status < 200;
    if (informational || status === 204 || status === 304 || bodiless(finals)) {
      body = Buffer.alloc(0);
    } else if (headers["transfer-encoding"]?.toLowerCase() === "chunked") {
      const chunks: Buffer[] = [];
      for (;;) {
        const lineEnd = data.indexOf("\r\n", cursor, "latin1");
        if (lineEnd < 0) return { responses: out, consumed: offset };
        const size = parseInt(data.subarray(cursor, lineEnd).toString("latin1"), 16);
        if (!Number.isFinite(size)) return { responses: out, consumed: offset };
        if (data.length < lineEnd + 2 + size + 2) return { responses: out, consumed: offset };
        chunks.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
        cursor = lineEnd + 2 + size + 2;
        if (size === 0) break;
      }
      body = Buffer.concat(chunks);
    } else {
      const length = Number(headers["content-length"] ?? 0);
      if (data.length < cursor + length) return { responses: out, consumed: offset };
      body = data.subarray(cursor, cursor + length);
      cursor += length;
    }
    out.push({ status, headers, body, json: () => JSON.parse(body.toString("utf8")) });
    if (!informational) finals += 1;
    offset = cursor;
  }
}
