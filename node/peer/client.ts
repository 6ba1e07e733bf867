/**
 * A client for one peer: a single persistent, pipelined connection obtained by an authenticated HTTP upgrade.
 * Requests are matched to responses by id, so many can be in flight at once; their number is bounded, each has a
 * timeout, and a peer that cannot be reached is retried no more often than `reconnectDelayMs` so a dead node costs
 * its callers a fast failure rather than a connect timeout each.
 */
import { request as httpRequest } from "node:http";
import type { Socket } from "node:net";
import { DynamoError } from "../errors/index.js";
import type { FaultInjector } from "./faults.js";
import { encodeFrame, FRAME_ERROR, FRAME_OK, FRAME_REQUEST, FrameReader, type Frame } from "./frame.js";

export const PEER_PROTOCOL = "dynamo-peer/1";

export interface PeerClientOptions {
  token: string;
  timeoutMs: number;
  inFlightMax: number;
  reconnectDelayMs: number;
  /** Identifies the caller to the peer (its node id), for logs and fault injection. */
  from: string;
  faults?: FaultInjector;
}

export interface PeerResponse {
  header: Record<string, unknown>;
  body: Buffer;
}

interface Pending {
  resolve: (r: PeerResponse) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

export class PeerClient {
  private socket: Socket | undefined;
  private connecting: Promise<Socket> | undefined;
  private lastFailureAt = 0;
  private lastFailure: Error | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private corked = false;
  private closed = false;

  constructor(
    readonly url: string,
    private readonly options: PeerClientOptions,
    /** The member id behind `url`, when known (seeds have none). */
    readonly peerId?: string,
  ) {}

  async request(op: string, header: Record<string, unknown>, body?: Buffer, timeoutMs?: number): Promise<PeerResponse> {
    if (this.options.faults?.isCut(this.peerId)) throw new DynamoError("unavailable", `network to ${this.peerId} is cut (fault injection)`);
    if (this.pending.size >= this.options.inFlightMax) {
      throw new DynamoError("unavailable", `too many requests in flight to ${this.url}`);
    }
    const socket = await this.connect();
    const id = this.nextId;
    this.nextId = this.nextId >= 0xffffffff ? 1 : this.nextId + 1;
    return new Promise<PeerResponse>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new DynamoError("unavailable", `peer ${this.url} did not answer '${op}' within ${timeoutMs ?? this.options.timeoutMs} ms`));
      }, timeoutMs ?? this.options.timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.write(socket, encodeFrame(id, FRAME_REQUEST, { ...header, op }, body));
    });
  }

  /** False while the last attempt to reach the peer failed and the reconnect delay has not passed. */
  get reachable(): boolean {
    if (this.options.faults?.isCut(this.peerId)) return false;
    return !this.lastFailure || Date.now() - this.lastFailureAt >= this.options.reconnectDelayMs;
  }

  close(): void {
    this.closed = true;
    this.socket?.destroy();
    this.failAll(new DynamoError("unavailable", `connection to ${this.url} closed`));
  }

  /** Drops the connection (tests use this to simulate a broken link); the next request reconnects. */
  reset(): void {
    this.socket?.destroy();
  }

  private write(socket: Socket, frame: Buffer): void {
    // Corking until the next tick coalesces the frames of one event-loop turn into a single write system call.
    if (!this.corked) {
      this.corked = true;
      socket.cork();
      process.nextTick(() => {
        this.corked = false;
        socket.uncork();
      });
    }
    socket.write(frame);
  }

  private connect(): Promise<Socket> {
    if (this.closed) return Promise.reject(new DynamoError("unavailable", `client for ${this.url} is closed`));
    if (this.socket && !this.socket.destroyed) return Promise.resolve(this.socket);
    if (this.connecting) return this.connecting;
    const sinceFailure = Date.now() - this.lastFailureAt;
    if (this.lastFailure && sinceFailure < this.options.reconnectDelayMs) {
      return Promise.reject(new DynamoError("unavailable", `peer ${this.url} is unreachable: ${this.lastFailure.message}`));
    }
    this.connecting = this.upgrade().then(
      (socket) => {
        this.connecting = undefined;
        this.lastFailure = undefined;
        this.attach(socket);
        return socket;
      },
      (err: Error) => {
        this.connecting = undefined;
        this.lastFailure = err;
        this.lastFailureAt = Date.now();
        throw new DynamoError("unavailable", `peer ${this.url} is unreachable: ${err.message}`, { cause: err });
      },
    );
    return this.connecting;
  }

  private upgrade(): Promise<Socket> {
    return new Promise<Socket>((resolve, reject) => {
      const req = httpRequest(new URL("/v1/peer/stream", this.url), {
        headers: {
          Connection: "Upgrade",
          Upgrade: PEER_PROTOCOL,
          Authorization: `Bearer ${this.options.token}`,
          "X-Dynamo-From": this.options.from,
        },
        timeout: this.options.timeoutMs,
      });
      req.on("upgrade", (_res, socket, head) => {
        socket.setNoDelay(true);
        if (head.length > 0) socket.unshift(head);
        resolve(socket);
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

  private attach(socket: Socket): void {
    this.socket = socket;
    const reader = new FrameReader();
    socket.on("data", (chunk: Buffer) => {
      let frames: Frame[];
      try {
        frames = reader.push(chunk);
      } catch (err) {
        socket.destroy(err as Error);
        return;
      }
      for (const frame of frames) this.settle(frame);
    });
    const onGone = (err?: Error) => {
      if (this.socket === socket) this.socket = undefined;
      this.lastFailure = err ?? new Error("connection closed");
      this.lastFailureAt = Date.now();
      this.failAll(new DynamoError("unavailable", `connection to ${this.url} lost${err ? `: ${err.message}` : ""}`));
    };
    socket.on("error", onGone);
    socket.on("close", () => onGone());
  }

  private settle(frame: Frame): void {
    const entry = this.pending.get(frame.id);
    if (!entry) return;
    this.pending.delete(frame.id);
    clearTimeout(entry.timer);
    if (frame.kind === FRAME_OK) {
      entry.resolve({ header: frame.header, body: frame.body });
    } else if (frame.kind === FRAME_ERROR) {
      const code = typeof frame.header.code === "string" ? frame.header.code : "internal";
      const message = typeof frame.header.message === "string" ? frame.header.message : "peer error";
      entry.reject(new DynamoError(code as DynamoError["code"], message));
    }
  }

  private failAll(err: Error): void {
    for (const [id, entry] of this.pending) {
      clearTimeout(entry.timer);
      entry.reject(err);
      this.pending.delete(id);
    }
  }
}
