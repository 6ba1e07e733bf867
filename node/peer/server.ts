/**
 * The serving side of the peer protocol: accepts authenticated upgrades on the peer port and dispatches each
 * request frame to the handler registered for its op, after decoding and validating its header and body against the
 * op's schema (../protocol/peer-ops.ts). A request that does not fit gets an `invalid_request` error frame; only a
 * stream that cannot be cut into frames any more is closed. Handlers run concurrently; responses go back in whatever
 * order they finish, tagged with the request id. A connection may hold at most `inFlightMax` unanswered requests;
 * past that new requests are answered with `unavailable` at once instead of queueing without bound.
 */
import type { IncomingMessage, Server } from "node:http";
import type { Duplex } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { DynamoError } from "../errors/index.js";
import {
  decodeRequest,
  encodeFrame,
  encodeResponse,
  FRAME_ERROR,
  FRAME_GOAWAY,
  FRAME_OK,
  FRAME_REQUEST,
  FrameReader,
  PEER_COMPACT_COORDINATE_HEADER,
  GOAWAY_FRAME_ID,
  PEER_COMPACT_HEADER,
  PeerMessageError,
  type Frame,
  type PeerHandler,
  type PeerHandlers,
  type PeerOp,
  type PeerRequest,
  type PeerResponseOut,
} from "../protocol/index.js";
import { bearerToken, tokenMatches } from "./auth.js";
import { coalescingWriter, type FrameWriter } from "./coalesce.js";
import { PEER_PROTOCOL, PEER_TWO_WAY_HEADER } from "./client.js";
import type { FaultInjector } from "./faults.js";

export interface PeerServerOptions {
  token: string;
  inFlightMax: number;
  log: (message: string) => void;
  faults?: FaultInjector;
  /**
   * Present on a node that sends its own requests on connections its peers of a lower id opened to it (one connection
   * per pair of nodes): `self` is its id, and `adopt` hands such a connection to the client for `from`, returning
   * where the frames answering that client's requests go, or undefined when no client for `from` takes it.
   */
  twoWay?: { self: string; adopt: (from: string, connection: TwoWayConnection) => ((frame: Frame) => void) | undefined };
}

/** A connection a peer opened to this node and offered for this node's requests too. */
export interface TwoWayConnection {
  socket: Duplex;
  /** The connection's one writer, which this node's answers on it go through too. */
  writer: FrameWriter;
  /** The compact header level agreed on the connection. */
  compact: number;
}

/** The serving side of one connection: it takes request frames and answers them on the connection's writer. */
export interface Responder {
  dispatch(frame: Frame): void;
  /** Requests taken and not answered yet. */
  readonly inFlight: number;
  /** Called each time the last request in flight is answered. */
  onIdle: (() => void) | undefined;
}

export class PeerServer {
  /** Each open stream, with the function that closes it gracefully (see goAway). */
  private readonly sockets = new Map<Duplex, (timeoutMs: number) => Promise<void>>();

  constructor(
    private readonly options: PeerServerOptions,
    private readonly handlers: PeerHandlers,
  ) {}

  attach(server: Server): void {
    server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => this.onUpgrade(req, socket, head));
  }

  /**
   * Closes every stream gracefully, for a planned stop: each stream stops reading, tells its caller how many requests it
   * read (a going-away frame, ../protocol/frame.ts) so the caller can send the rest elsewhere, lets the requests it
   * read finish and answer for up to `timeoutMs`, and then ends. Without it, a request frame still in the socket's
   * buffer when the node closed would leave the caller unable to tell whether it was acted upon.
   */
  async goAway(timeoutMs: number): Promise<void> {
    await Promise.all([...this.sockets.values()].map((close) => close(timeoutMs)));
  }

  closeAll(): void {
    for (const socket of this.sockets.keys()) socket.destroy();
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
    const from = String(req.headers["x-dynamo-from"] ?? "unknown").slice(0, 63);
    // A caller of an earlier version does not ask for compact headers (or not for coordinate), and gets JSON answers
    // to what it did not ask for.
    const compact = req.headers[PEER_COMPACT_HEADER.toLowerCase()] !== "1" ? 0 : req.headers[PEER_COMPACT_COORDINATE_HEADER.toLowerCase()] === "1" ? 2 : 1;
    // A caller offers its connection for this node's requests too only to a node of a higher id, so that of two nodes
    // that dial each other it is the lower one's connection that both keep (./client.ts).
    const twoWay = req.headers[PEER_TWO_WAY_HEADER.toLowerCase()] === "1" && this.options.twoWay !== undefined && from < this.options.twoWay.self;
    const agreed =
      (compact >= 1 ? `${PEER_COMPACT_HEADER}: 1\r\n` : "") + (compact >= 2 ? `${PEER_COMPACT_COORDINATE_HEADER}: 1\r\n` : "") + (twoWay ? `${PEER_TWO_WAY_HEADER}: 1\r\n` : "");
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${PEER_PROTOCOL}\r\n${agreed}\r\n`);
    this.serve(socket, from, head, compact, twoWay);
  }

  private serve(socket: Duplex, from: string, head: Buffer, compact: number, twoWay: boolean): void {
    const reader = new FrameReader();
    const writer = coalescingWriter(socket);
    const responder = this.serveOn(socket, from, writer, compact);
    // On a connection the caller opened for both directions, the frames that are not requests answer this node's own
    // requests to it. Once agreed, they never reach the responder, even with no client here to take them: an error
    // frame sent back in reply would carry an id of the caller's own requests.
    const answers = twoWay ? (this.options.twoWay?.adopt(from, { socket, writer, compact }) ?? (() => undefined)) : undefined;
    const onData = (chunk: Buffer) => {
      let frames: Frame[];
      try {
        frames = reader.push(chunk);
      } catch (err) {
        this.options.log(`closing peer stream from ${from}: ${(err as Error).message}`);
        socket.destroy();
        return;
      }
      for (const frame of frames) {
        if (answers === undefined || frame.kind === FRAME_REQUEST) responder.dispatch(frame);
        else answers(frame);
      }
    };
    socket.on("data", onData);
    socket.on("error", () => socket.destroy());
    if (head.length > 0) onData(head);
  }

  /**
   * Serves the requests that arrive on one connection, whichever side opened it: this node's own upgrades, and the
   * connections it opened to peers of a higher id that it offered for their requests too (one connection per pair of
   * nodes, see ./client.ts). Answers go out through `writer`, coalesced with whatever else the connection sends in the
   * same turn. The connection closes gracefully with the others on `goAway`.
   */
  serveOn(socket: Duplex, from: string, writer: FrameWriter, compact: number): Responder {
    let inFlight = 0;
    /** Request frames taken from this stream; after going away, none more is. */
    let read = 0;
    let leaving = false;
    let idle: (() => void) | undefined;
    /** The other side ended its half: no request comes any more, and this side ends once it has answered them all. */
    let ended = false;
    const send = (frame: Buffer) => writer.write(frame);
    const sendError = (id: number, code: string, message: string) => send(encodeFrame(id, FRAME_ERROR, { code, message: message.slice(0, 4000) }));
    const responder: Responder = {
      get inFlight() {
        return inFlight;
      },
      onIdle: undefined,
      dispatch: (frame) => dispatch(frame),
    };
    const dispatch = (frame: Frame) => {
      // Never read: the going-away frame's count already told the caller so.
      if (leaving) return;
      read += 1;
      if (this.options.faults?.isCut(from)) return;
      if (frame.kind !== FRAME_REQUEST) {
        sendError(frame.id, "invalid_request", `expected a request frame, got kind ${frame.kind}`);
        return;
      }
      let op: PeerOp;
      let request: PeerRequest<PeerOp>;
      try {
        ({ op, request } = decodeRequest(frame.header, frame.body));
      } catch (err) {
        if (!(err instanceof PeerMessageError)) throw err;
        sendError(frame.id, "invalid_request", err.message);
        return;
      }
      if (inFlight >= this.options.inFlightMax) {
        sendError(frame.id, "unavailable", "peer is overloaded");
        return;
      }
      inFlight += 1;
      const finished = () => {
        inFlight -= 1;
        if (inFlight === 0) {
          idle?.();
          responder.onIdle?.();
          if (ended) writer.end();
        }
      };
      const fail = (err: unknown) => {
        const known = err instanceof DynamoError;
        if (!known) this.options.log(`peer op '${op}' from ${from} failed: ${(err as Error)?.stack ?? String(err)}`);
        sendError(frame.id, known ? err.code : "internal", (err as Error)?.message ?? String(err));
        finished();
      };
      // One reaction for either outcome, not a chain of then, catch and finally: every peer request passes here.
      let answered: Promise<PeerResponseOut<PeerOp>>;
      try {
        answered = (this.handlers[op] as PeerHandler<PeerOp>)(request, from);
      } catch (err) {
        answered = Promise.reject(err);
      }
      answered.then((response) => {
        let reply: Buffer;
        try {
          // A response over the frame limit becomes an error reply, not a frame the caller would have to refuse.
          const { header, body } = encodeResponse(op, response, compact);
          reply = encodeFrame(frame.id, FRAME_OK, header, body);
        } catch (err) {
          fail(err);
          return;
        }
        send(reply);
        finished();
      }, fail);
    };
    const goAway = async (timeoutMs: number): Promise<void> => {
      if (leaving || socket.destroyed) return;
      leaving = true;
      const deadline = performance.now() + timeoutMs;
      const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
      send(encodeFrame(GOAWAY_FRAME_ID, FRAME_GOAWAY, { read }));
      if (inFlight > 0) await Promise.race([new Promise<void>((resolve) => (idle = resolve)), closed, sleep(timeoutMs)]);
      // Ending (not destroying) flushes the answers; the caller ends its side once nothing it waits for is left here,
      // and a socket destroyed with bytes still unread would be reset, which could discard the going-away frame.
      writer.end();
      await Promise.race([closed, sleep(Math.max(0, deadline - performance.now()))]);
    };
    this.sockets.set(socket, goAway);
    socket.on("close", () => this.sockets.delete(socket));
    // The peer port's sockets allow half-open connections (Node's HTTP server asks for them), so a caller that ends its
    // side (a retired connection, a closed client) would otherwise leave this one open for good.
    socket.on("end", () => {
      ended = true;
      if (inFlight === 0) writer.end();
    });
    return responder;
  }
}
