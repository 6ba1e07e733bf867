/**
 * The serving side of the peer protocol: accepts authenticated upgrades on the peer port and dispatches each
 * request frame to the handler registered for its op. Handlers run concurrently; responses go back in whatever order
 * they finish, tagged with the request id. A connection may hold at most `inFlightMax` unanswered requests; past that
 * new requests are answered with `unavailable` at once instead of queueing without bound.
 */
import type { IncomingMessage, Server } from "node:http";
import type { Duplex } from "node:stream";
import { DynamoError } from "../errors/index.js";
import { bearerToken, tokenMatches } from "./auth.js";
import { PEER_PROTOCOL } from "./client.js";
import type { FaultInjector } from "./faults.js";
import { encodeFrame, FRAME_ERROR, FRAME_OK, FRAME_REQUEST, FrameReader, type Frame } from "./frame.js";

export type PeerHandler = (header: Record<string, unknown>, body: Buffer, from: string) => Promise<{ header?: Record<string, unknown>; body?: Buffer }>;

export interface PeerServerOptions {
  token: string;
  inFlightMax: number;
  log: (message: string) => void;
  faults?: FaultInjector;
}

export class PeerServer {
  private readonly handlers = new Map<string, PeerHandler>();
  private readonly sockets = new Set<Duplex>();

  constructor(private readonly options: PeerServerOptions) {}

  handle(op: string, handler: PeerHandler): void {
    this.handlers.set(op, handler);
  }

  attach(server: Server): void {
    server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => this.onUpgrade(req, socket, head));
  }

  closeAll(): void {
    for (const socket of this.sockets) socket.destroy();
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const refuse = (status: number, code: string, message: string) => {
      const body = JSON.stringify({ error: code, message });
      socket.end(
        `HTTP/1.1 ${status} ${status === 401 ? "Unauthorized" : "Bad Request"}\r\nContent-Type: application/json\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    };
    if (req.url !== "/v1/peer/stream" || req.headers.upgrade !== PEER_PROTOCOL) {
      refuse(400, "invalid_request", `upgrade to ${PEER_PROTOCOL} at /v1/peer/stream only`);
      return;
    }
    if (!tokenMatches(this.options.token, bearerToken(req.headers.authorization))) {
      refuse(401, "unauthorized", "missing or wrong peer token");
      return;
    }
    const from = String(req.headers["x-dynamo-from"] ?? "unknown");
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${PEER_PROTOCOL}\r\n\r\n`);
    this.serve(socket, from, head);
  }

  private serve(socket: Duplex, from: string, head: Buffer): void {
    this.sockets.add(socket);
    const reader = new FrameReader();
    let inFlight = 0;
    let corked = false;
    const send = (frame: Buffer) => {
      if (socket.destroyed) return;
      if (!corked) {
        corked = true;
        socket.cork();
        process.nextTick(() => {
          corked = false;
          socket.uncork();
        });
      }
      socket.write(frame);
    };
    const dispatch = (frame: Frame) => {
      if (frame.kind !== FRAME_REQUEST || this.options.faults?.isCut(from)) return;
      const op = String(frame.header.op);
      const handler = this.handlers.get(op);
      if (!handler) {
        send(encodeFrame(frame.id, FRAME_ERROR, { code: "invalid_request", message: `unknown peer op '${op}'` }));
        return;
      }
      if (inFlight >= this.options.inFlightMax) {
        send(encodeFrame(frame.id, FRAME_ERROR, { code: "unavailable", message: "peer is overloaded" }));
        return;
      }
      inFlight += 1;
      handler(frame.header, frame.body, from).then(
        (result) => send(encodeFrame(frame.id, FRAME_OK, result.header ?? {}, result.body)),
        (err: unknown) => {
          const known = err instanceof DynamoError;
          if (!known) this.options.log(`peer op '${op}' from ${from} failed: ${(err as Error).stack ?? String(err)}`);
          send(encodeFrame(frame.id, FRAME_ERROR, { code: known ? err.code : "internal", message: (err as Error).message }));
        },
      ).finally(() => {
        inFlight -= 1;
      });
    };
    const onData = (chunk: Buffer) => {
      let frames: Frame[];
      try {
        frames = reader.push(chunk);
      } catch (err) {
        this.options.log(`closing peer stream from ${from}: ${(err as Error).message}`);
        socket.destroy();
        return;
      }
      for (const frame of frames) dispatch(frame);
    };
    socket.on("data", onData);
    socket.on("error", () => socket.destroy());
    socket.on("close", () => this.sockets.delete(socket));
    if (head.length > 0) onData(head);
  }
}
