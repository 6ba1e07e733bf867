/**
 * A client for one peer: a single persistent, pipelined connection obtained by an authenticated HTTP upgrade.
 * Requests are matched to responses by id, so many can be in flight at once; their number is bounded, each has a
 * timeout, and a peer that cannot be reached is retried no more often than `reconnectDelayMs` so a dead node costs
 * its callers a fast failure rather than a connect timeout each.
 *
 * One connection per pair of nodes: a node dialing a peer of a higher id offers its connection for the peer's requests
 * too. The peer's client then sends on that connection (it "borrows" it) and retires its own, so the two nodes'
 * requests and answers of one event-loop turn leave each side in one write: a node under load sends a fifth fewer
 * writes to its peers, each a system call, a TLS record and a wake-up of the receiver (docs/performance.md, round 41).
 * Frames on such a connection are told apart by kind: requests go to this node's responder (the peer server's
 * `serveOn`), answers and the going-away frame to the client whose request ids they carry. A peer of an earlier
 * version neither offers nor accepts, and the two nodes keep a connection each way.
 */
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import type { Duplex } from "node:stream";
import { DynamoError, isErrorCode } from "../errors/index.js";
import {
  decodeErrorHeader,
  decodeResponse,
  encodeFrame,
  encodeRequestBody,
  encodeRequestHeader,
  FRAME_ERROR,
  FRAME_GOAWAY,
  FRAME_OK,
  FRAME_REQUEST,
  FrameReader,
  PEER_COMPACT_COORDINATE_HEADER,
  GOAWAY_FRAME_ID,
  PEER_COMPACT_HEADER,
  type Frame,
  type PeerOp,
  type PeerRequestOut,
  type PeerResponse,
} from "../protocol/index.js";
import type { ClientTlsOptions } from "../tls/index.js";
import { coalescingWriter, type FrameWriter } from "./coalesce.js";
import type { FaultInjector } from "./faults.js";
import type { Responder } from "./server.js";

/** The upgrade token; version 2 carries the typed messages of ../protocol/peer-ops.ts. */
export const PEER_PROTOCOL = "dynamo-peer/2";

/** The upgrade header by which a caller offers, and the peer accepts, to carry the peer's requests too. */
export const PEER_TWO_WAY_HEADER = "X-Dynamo-Peer-Two-Way";

/**
 * A request that never left this node (the peer was unreachable, the in-flight bound was full, the link is cut): the
 * peer cannot have acted on it, so the caller may send it elsewhere. Any other failure — a timeout, a connection lost
 * after the frame was written — leaves it unknown whether the peer will act on it, possibly much later.
 */
export class RequestNotSentError extends DynamoError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("unavailable", message, options);
    this.name = "RequestNotSentError";
  }
}

export interface PeerClientOptions {
  token: string;
  timeoutMs: number;
  inFlightMax: number;
  reconnectDelayMs: number;
  /** Identifies the caller to the peer (its node id), for logs and fault injection. */
  from: string;
  faults?: FaultInjector;
  /**
   * The TLS material for `https` peers, read at every new connection so a rotated certificate is used from then on.
   * Undefined on a node that runs its peer port in plaintext.
   */
  tls?: () => ClientTlsOptions;
  /**
   * Serves the requests a peer of a higher id sends on this node's connection to it (the peer server's `serveOn`);
   * without it this node does not offer its connections for its peers' requests. Undefined when nothing serves yet.
   */
  serve?: (socket: Duplex, from: string, writer: FrameWriter, compact: number) => Responder | undefined;
}

interface Pending {
  op: PeerOp;
  resolve: (r: PeerResponse<PeerOp>) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
  /** The connection the request went out on, and its place among the requests sent there (1 for the first). */
  socket: Duplex;
  connection: Connection;
  ordinal: number;
}

/** What this side knows of one connection: requests written to it, and whether the peer said it is going away. */
interface Connection {
  sent: number;
  retired: boolean;
  /** Writes frames, coalesced with the others of this event-loop turn (./coalesce.ts). */
  writer: FrameWriter;
  /** The compact header level the peer said it reads (see ../protocol/peer-ops.ts); 0: none. */
  compact: number;
  /** A connection the peer opened and serves: its end is the peer's to make, not this client's. */
  borrowed: boolean;
  /** What serves the peer's requests on a connection this node opened for both directions. */
  responder?: Responder;
}


export class PeerClient {
  /** The connection requests go out on: one this client opened, or one the peer opened and offered. */
  private socket: Duplex | undefined;
  private connecting: Promise<Duplex> | undefined;
  /** On the monotonic clock: a wall-clock step must not stretch or skip the reconnect delay. */
  private lastFailureAt = 0;
  private lastFailure: Error | undefined;
  /**
   * The error every request turned away since the last failure gets. One object for them all: while a peer is down
   * each write to its keys is turned away, and capturing a new error's stack trace for each cost 3 µs of a YCSB-A
   * operation with one node of three down (performance round 38).
   */
  private unreachable: RequestNotSentError | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private closed = false;
  private readonly connections = new WeakMap<Duplex, Connection>();

  constructor(
    readonly url: string,
    private readonly options: PeerClientOptions,
    /** The member id behind `url`, when known (seeds have none). */
    readonly peerId?: string,
  ) {}

  /**
   * Sends one typed request and resolves with the peer's validated response. Fails with a DynamoError: the peer's
   * own error, `unavailable` when it cannot be reached, does not answer in time or answers something malformed, or
   * `value_too_large` when the request would not fit in a frame (then nothing is sent).
   */
  call<O extends PeerOp>(op: O, request: PeerRequestOut<O>, timeoutMs?: number): Promise<PeerResponse<O>> {
    if (this.options.faults?.isCut(this.peerId)) return Promise.reject(new RequestNotSentError(`network to ${this.peerId} is cut (fault injection)`));
    if (this.pending.size >= this.options.inFlightMax) {
      return Promise.reject(new RequestNotSentError(`too many requests in flight to ${this.url}`));
    }
    // An open connection, nearly every call, is used at once: awaiting it would cost a turn of the microtask queue.
    const socket = this.socket;
    if (socket && !socket.destroyed) return this.send(socket, op, request, timeoutMs);
    return this.connect().then((connected) => this.send(connected, op, request, timeoutMs));
  }

  private send<O extends PeerOp>(socket: Duplex, op: O, request: PeerRequestOut<O>, timeoutMs: number | undefined): Promise<PeerResponse<O>> {
    const connection = this.connections.get(socket);
    if (!connection || connection.retired) return Promise.reject(new RequestNotSentError(`peer ${this.url} is closing this connection`));
    let frame: Buffer;
    const id = this.nextId;
    try {
      frame = encodeFrame(id, FRAME_REQUEST, encodeRequestHeader(op, request.header, connection.compact), encodeRequestBody(op, request));
    } catch (err) {
      return Promise.reject(err as Error);
    }
    this.nextId = id >= 0xffffffff ? 1 : id + 1;
    const wait = timeoutMs ?? this.options.timeoutMs;
    return new Promise<PeerResponse<O>>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new DynamoError("unavailable", `peer ${this.url} did not answer '${op}' within ${wait} ms`));
      }, wait);
      connection.sent += 1;
      this.pending.set(id, { op, resolve: resolve as (r: PeerResponse<PeerOp>) => void, reject, timer, socket, connection, ordinal: connection.sent });
      connection.writer.write(frame);
    });
  }

  /** False while the last attempt to reach the peer failed and the reconnect delay has not passed. */
  get reachable(): boolean {
    if (this.options.faults?.isCut(this.peerId)) return false;
    return !this.lastFailure || performance.now() - this.lastFailureAt >= this.options.reconnectDelayMs;
  }

  close(): void {
    this.closed = true;
    // A borrowed connection still carries the peer's own requests to this node; the peer server closes it.
    if (this.socket && !this.connections.get(this.socket)?.borrowed) this.socket.destroy();
    this.socket = undefined;
    this.failAll(new DynamoError("unavailable", `connection to ${this.url} closed`));
  }

  /** Drops the connection (tests use this to simulate a broken link); the next request reconnects. */
  reset(): void {
    this.socket?.destroy();
  }

  /**
   * Takes a connection the peer opened to this node, and offered, as the one to send it requests on from now on; the
   * connection this client opened itself, if any, is retired: it takes no new request and ends once the ones sent on
   * it are answered. Returns where the frames that answer this client's requests on it go, or undefined when this
   * client is closed.
   */
  adopt(socket: Duplex, writer: FrameWriter, compact: number): ((frame: Frame) => void) | undefined {
    if (this.closed || socket.destroyed) return undefined;
    const connection: Connection = { sent: 0, retired: false, writer, compact, borrowed: true };
    this.connections.set(socket, connection);
    const own = this.socket;
    this.socket = socket;
    // A connection the peer just opened says it is reachable, whatever the last attempt to dial it said.
    this.recordAttempt(undefined);
    if (own) this.retire(own);
    // Once the peer ended its half no answer can come; the socket itself closes when this node has answered the peer.
    const lost = () => {
      if (this.socket === socket) this.socket = undefined;
      this.failAll(new DynamoError("unavailable", `connection from ${this.url} lost`), socket);
    };
    socket.once("end", lost);
    socket.once("close", lost);
    return (frame) => {
      if (frame.kind === FRAME_GOAWAY && frame.id === GOAWAY_FRAME_ID) this.goneAway(socket, connection, frame);
      else this.settle(frame);
    };
  }

  /** Sends no new request on `socket`, and ends it once the ones sent there are answered. */
  private retire(socket: Duplex): void {
    const connection = this.connections.get(socket);
    if (!connection) return;
    connection.retired = true;
    if (this.socket === socket) this.socket = undefined;
    this.endIfDone(socket, connection);
  }

  private connect(): Promise<Duplex> {
    if (this.closed) return Promise.reject(new RequestNotSentError(`client for ${this.url} is closed`));
    if (this.socket && !this.socket.destroyed) return Promise.resolve(this.socket);
    if (this.connecting) return this.connecting;
    const sinceFailure = performance.now() - this.lastFailureAt;
    if (this.lastFailure && sinceFailure < this.options.reconnectDelayMs) {
      this.unreachable ??= new RequestNotSentError(`peer ${this.url} is unreachable: ${this.lastFailure.message}`);
      return Promise.reject(this.unreachable);
    }
    this.connecting = this.upgrade().then(
      ({ socket, compact, twoWay }) => {
        this.connecting = undefined;
        this.recordAttempt(undefined);
        const borrowed = this.socket;
        this.attach(socket, compact, twoWay);
        // The peer offered its own connection while this one was being opened: keep to the peer's.
        if (borrowed && !borrowed.destroyed) {
          this.retire(socket);
          this.socket = borrowed;
          return borrowed;
        }
        return socket;
      },
      (err: Error) => {
        this.connecting = undefined;
        this.recordAttempt(err);
        throw new RequestNotSentError(`peer ${this.url} is unreachable: ${err.message}`, { cause: err });
      },
    );
    return this.connecting;
  }

  /** Remembers how the last attempt to reach the peer ended: its failure, or undefined when it succeeded. */
  private recordAttempt(err: Error | undefined): void {
    this.lastFailure = err;
    this.lastFailureAt = performance.now();
    this.unreachable = undefined;
  }

  /**
   * Opens a connection and upgrades it to the peer protocol; resolves with the compact header level the peer reads and
   * whether the peer takes the connection for its own requests too.
   */
  private upgrade(): Promise<{ socket: Duplex; compact: number; twoWay: boolean }> {
    return new Promise((resolve, reject) => {
      const url = new URL("/v1/peer/stream", this.url);
      const options = {
        headers: {
          Connection: "Upgrade",
          Upgrade: PEER_PROTOCOL,
          Authorization: `Bearer ${this.options.token}`,
          "X-Dynamo-From": this.options.from,
          [PEER_COMPACT_HEADER]: "1",
          [PEER_COMPACT_COORDINATE_HEADER]: "1",
          ...(this.offersTwoWay ? { [PEER_TWO_WAY_HEADER]: "1" } : {}),
        },
        timeout: this.options.timeoutMs,
      };
      let req;
      if (url.protocol === "https:") {
        if (!this.options.tls) {
          reject(new Error("the peer's URL is https but this node has no TLS directory"));
          return;
        }
        req = httpsRequest(url, { ...options, ...this.options.tls(), agent: false });
      } else if (this.options.tls) {
        // A node with TLS never sends the cluster token in the clear, whatever address a ring names.
        reject(new Error("the peer's URL is plain http but this node only talks TLS to peers"));
        return;
      } else {
        req = httpRequest(url, options);
      }
      req.on("upgrade", (res, socket, head) => {
        socket.setNoDelay(true);
        const compact = res.headers[PEER_COMPACT_HEADER.toLowerCase()] !== "1" ? 0 : res.headers[PEER_COMPACT_COORDINATE_HEADER.toLowerCase()] === "1" ? 2 : 1;
        if (head.length > 0) socket.unshift(head);
        resolve({ socket, compact, twoWay: this.offersTwoWay && res.headers[PEER_TWO_WAY_HEADER.toLowerCase()] === "1" });
      });
      req.on("response", (res) => {
        res.resume();
        reject(new Error(`peer refused the stream with HTTP ${res.statusCode}`));
      });
      req.on("timeout", () => req.destroy(new Error("connect timed out")));
      req.on("error", reject);
      req.end();
    });
  }

  /** Whether this client offers its connections for the peer's requests too: only to a peer of a higher id. */
  private get offersTwoWay(): boolean {
    return this.options.serve !== undefined && this.peerId !== undefined && this.options.from < this.peerId;
  }

  private attach(socket: Duplex, compact: number, twoWay: boolean): void {
    this.socket = socket;
    const connection: Connection = { sent: 0, retired: false, writer: coalescingWriter(socket), compact, borrowed: false };
    this.connections.set(socket, connection);
    let responder: Responder | undefined;
    if (twoWay) {
      responder = this.options.serve?.(socket, this.peerId!, connection.writer, compact);
      if (responder) {
        connection.responder = responder;
        // A retired connection waits for the answers this node still owes the peer before it ends.
        responder.onIdle = () => this.endIfDone(socket, connection);
      }
    }
    const reader = new FrameReader();
    socket.on("data", (chunk: Buffer) => {
      let frames: Frame[];
      try {
        frames = reader.push(chunk);
      } catch (err) {
        socket.destroy(err as Error);
        return;
      }
      for (const frame of frames) {
        if (frame.kind === FRAME_REQUEST && twoWay) this.serveRequest(responder, connection, frame);
        else if (frame.kind === FRAME_GOAWAY && frame.id === GOAWAY_FRAME_ID) this.goneAway(socket, connection, frame);
        else this.settle(frame);
      }
    });
    const onGone = (err?: Error) => {
      if (this.socket === socket) this.socket = undefined;
      // A connection the peer retired closes as planned; the next request simply opens a new one.
      if (!connection.retired || err) {
        this.recordAttempt(err ?? new Error("connection closed"));
      }
      this.failAll(new DynamoError("unavailable", `connection to ${this.url} lost${err ? `: ${err.message}` : ""}`), socket);
    };
    socket.on("error", onGone);
    socket.on("close", () => onGone());
  }

  /** A peer's request on a connection this node opened for both directions; refused while nothing serves here yet. */
  private serveRequest(responder: Responder | undefined, connection: Connection, frame: Frame): void {
    if (responder) responder.dispatch(frame);
    else connection.writer.write(encodeFrame(frame.id, FRAME_ERROR, { code: "unavailable", message: "this node does not serve peer requests yet" }));
  }

  /**
   * The peer is closing this connection (it shuts down) and read only the first `read` requests sent on it: the later
   * ones never reached a handler, so they fail as not sent and their callers may go to another node. The earlier ones
   * keep waiting for their answers, which the peer still sends. New requests open a new connection.
   */
  private goneAway(socket: Duplex, connection: Connection, frame: Frame): void {
    let read: number;
    try {
      const header: unknown = JSON.parse(frame.header.toString("utf8"));
      read = (header as { read?: unknown }).read as number;
      if (!Number.isSafeInteger(read) || read < 0) throw new Error(`bad count ${String(read)}`);
    } catch (err) {
      socket.destroy(new Error(`malformed going-away frame: ${(err as Error).message}`));
      return;
    }
    connection.retired = true;
    if (this.socket === socket) this.socket = undefined;
    for (const [id, entry] of this.pending) {
      if (entry.socket !== socket || entry.ordinal <= read) continue;
      clearTimeout(entry.timer);
      this.pending.delete(id);
      entry.reject(new RequestNotSentError(`peer ${this.url} is shutting down and never read '${entry.op}'`));
    }
    this.endIfDone(socket, connection);
  }

  /**
   * Ends a retired connection once no request waits on it and it owes the peer no answer, which lets the peer's
   * graceful close complete at once. A borrowed connection is the peer's to end.
   */
  private endIfDone(socket: Duplex, connection: Connection): void {
    if (!connection.retired || connection.borrowed) return;
    if (connection.responder && connection.responder.inFlight > 0) return;
    for (const entry of this.pending.values()) if (entry.socket === socket) return;
    connection.writer.end();
  }

  /** Matches a response to its request; whatever the peer sent, the request is settled and nothing throws. */
  private settle(frame: Frame): void {
    const entry = this.pending.get(frame.id);
    if (!entry) return;
    this.pending.delete(frame.id);
    clearTimeout(entry.timer);
    // The request carries its connection, so an answer costs no lookup here.
    this.endIfDone(entry.socket, entry.connection);
    if (frame.kind === FRAME_OK) {
      try {
        entry.resolve(decodeResponse(entry.op, frame.header, frame.body));
      } catch (err) {
        entry.reject(new DynamoError("unavailable", `peer ${this.url} sent a malformed answer to '${entry.op}': ${(err as Error).message}`));
      }
    } else if (frame.kind === FRAME_ERROR) {
      const { code, message } = decodeErrorHeader(frame.header);
      entry.reject(new DynamoError(isErrorCode(code) ? code : "internal", message));
    } else {
      entry.reject(new DynamoError("unavailable", `peer ${this.url} answered '${entry.op}' with an unknown frame kind ${frame.kind}`));
    }
  }

  /** Fails the requests waiting on `socket`, or on any connection when none is named. */
  private failAll(err: Error, socket?: Duplex): void {
    for (const [id, entry] of this.pending) {
      if (socket !== undefined && entry.socket !== socket) continue;
      clearTimeout(entry.timer);
      entry.reject(err);
      this.pending.delete(id);
    }
  }
}
