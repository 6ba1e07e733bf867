/**
 * A raw connection to a node's peer port for tests that must send what no well-behaved peer would: frames with null
 * or mistyped headers, unknown ops, bodies that do not decode, corrupt lengths. It performs the upgrade itself and
 * hands back whole frames as they arrive, with nothing validated.
 */
import { request as plainRequest } from "node:http";
import { request as tlsRequest } from "node:https";
import type { Socket } from "node:net";
import { DynamoError } from "../../node/errors/index.js";
import { FrameReader, PEER_OPS, type Frame, type PeerHandlers } from "../../node/protocol/index.js";
import { PEER_PROTOCOL } from "../../node/peer/index.js";
import type { ClientTlsOptions } from "../../node/tls/index.js";

export class RawPeerConnection {
  private readonly reader = new FrameReader();
  private readonly frames: Frame[] = [];
  private waiters: (() => void)[] = [];
  closed = false;

  private constructor(readonly socket: Socket) {
    socket.on("data", (chunk: Buffer) => {
      try {
        this.frames.push(...this.reader.push(chunk));
      } catch {
        socket.destroy();
      }
      this.notify();
    });
    socket.on("close", () => {
      this.closed = true;
      this.notify();
    });
    socket.on("error", () => undefined);
  }

  /** Upgrades a connection to the peer protocol; an `https` peer URL needs `tls` (a client certificate and the CA). */
  static async open(peerUrl: string, token: string, tls?: ClientTlsOptions, from = "raw-test"): Promise<RawPeerConnection> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const url = new URL("/v1/peer/stream", peerUrl);
      const headers = { Connection: "Upgrade", Upgrade: PEER_PROTOCOL, Authorization: `Bearer ${token}`, "X-Dynamo-From": from };
      const req = url.protocol === "https:" ? tlsRequest(url, { headers, ...tls, agent: false }) : plainRequest(url, { headers });
      req.on("upgrade", (_res, s, head) => {
        if (head.length > 0) s.unshift(head);
        resolve(s);
      });
      req.on("response", (res) => reject(new Error(`upgrade refused with HTTP ${res.statusCode}`)));
      req.on("error", reject);
      req.end();
    });
    return new RawPeerConnection(socket);
  }

  /** Sends a frame whose header is exactly `headerText` (any bytes, valid JSON or not). */
  sendRaw(id: number, kind: number, headerText: string | Buffer, body: Buffer = Buffer.alloc(0)): void {
    this.socket.write(rawFrame(id, kind, headerText, body));
  }

  /** The reply to request `id`, or undefined when the connection closed or nothing came within `timeoutMs`. */
  async reply(id: number, timeoutMs = 5000): Promise<Frame | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.frames.findIndex((f) => f.id === id);
      if (index >= 0) return this.frames.splice(index, 1)[0];
      if (this.closed || Date.now() > deadline) return undefined;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.socket.destroy();
  }

  private notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

/** A frame with exactly the header text and body given, valid or not, as a hostile peer would build it. */
export function rawFrame(id: number, kind: number, headerText: string | Buffer, body: Buffer = Buffer.alloc(0)): Buffer {
  const header = Buffer.isBuffer(headerText) ? headerText : Buffer.from(headerText, "utf8");
  const out = Buffer.alloc(11 + header.length + body.length);
  out.writeUInt32BE(7 + header.length + body.length, 0);
  out.writeUInt32BE(id, 4);
  out[8] = kind;
  out.writeUInt16BE(header.length, 9);
  header.copy(out, 11);
  body.copy(out, 11 + header.length);
  return out;
}

/** The JSON of a frame's header. */
export function headerOf(frame: Frame): unknown {
  return JSON.parse(frame.header.toString("utf8"));
}

/**
 * Handlers for every peer operation: the ones given, and for the rest one that refuses, for a test's peer port that
 * serves only what the test calls.
 */
export function peerHandlers(serve: Partial<PeerHandlers>): PeerHandlers {
  const refuse = async (): Promise<never> => {
    throw new DynamoError("invalid_request", "not served by this test's peer");
  };
  const all = Object.fromEntries(Object.keys(PEER_OPS).map((op) => [op, refuse])) as unknown as PeerHandlers;
  return { ...all, ...serve };
}
