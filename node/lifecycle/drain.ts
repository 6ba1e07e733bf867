/**
 * Draining: what a node does between being told to stop and closing its ports. From the moment it begins, the node
 * takes no new work it would have to abandon: client key-value requests are refused with `503 not_ready` and a
 * `Retry-After` (nothing was stored, so any client may send the request to another node at once), and writes other
 * nodes forward to it are refused the same way, so the forwarder tries the next replica. Requests already being served,
 * on either port, are counted, and `whenIdle` resolves once none is left, or when the time allowed is up.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import { DynamoError } from "../errors/index.js";
import type { PeerHandlers } from "../protocol/index.js";

/** Seconds a refused client is told to wait before it retries this node; any other node can take the request now. */
const RETRY_AFTER_SECONDS = 1;

export class Drain {
  private draining = false;
  private clientRequests = 0;
  private peerRequests = 0;
  private readonly waiters = new Set<() => void>();

  constructor(private readonly self: string) {}

  get isDraining(): boolean {
    return this.draining;
  }

  /** Requests being served right now: client requests coordinated here, and peer requests other nodes sent. */
  get inFlight(): { client: number; peer: number } {
    return { client: this.clientRequests, peer: this.peerRequests };
  }

  begin(): void {
    this.draining = true;
    this.settle();
  }

  /** Resolves true once no request is in flight, or false when `timeoutMs` passes first. */
  whenIdle(timeoutMs: number): Promise<boolean> {
    if (this.idle()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (idle: boolean) => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        resolve(idle);
      };
      const wake = () => done(true);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.waiters.add(wake);
    });
  }

  /**
   * Wraps the client port's request listener: key-value requests are refused while draining, and the ones let
   * through are counted until their response is finished or abandoned. Everything else (probes, metrics, the
   * console) passes untouched, so /readyz can say why the node is not ready.
   */
  clientGate(listener: RequestListener): RequestListener {
    return (req, res) => {
      if (!req.url?.startsWith("/v1/kv/")) return listener(req, res);
      if (this.draining) {
        this.refuse(req, res);
        return;
      }
      this.clientRequests += 1;
      res.once("close", () => {
        this.clientRequests -= 1;
        this.settle();
      });
      listener(req, res);
    };
  }

  /**
   * The peer handlers, counted while they run; `coordinate` (a write forwarded by a node that holds no replica of the
   * key) is refused while draining, as `not_ready`, which tells the forwarder nothing was stored here.
   */
  peerGate(handlers: PeerHandlers): PeerHandlers {
    const wrapped: Record<string, unknown> = {};
    for (const [op, handler] of Object.entries(handlers) as [string, (request: unknown, from: string) => Promise<unknown>][]) {
      wrapped[op] = (request: unknown, from: string): Promise<unknown> => {
        if (op === "coordinate" && this.draining) return Promise.reject(this.refusal());
        this.peerRequests += 1;
        const done = () => {
          this.peerRequests -= 1;
          this.settle();
        };
        // One reaction for either outcome rather than an async function's await and finally: every peer request
        // passes here.
        let answer: Promise<unknown>;
        try {
          answer = handler(request, from);
        } catch (err) {
          answer = Promise.reject(err);
        }
        return answer.then(
          (value) => {
            done();
            return value;
          },
          (err: unknown) => {
            done();
            throw err;
          },
        );
      };
    }
    return wrapped as PeerHandlers;
  }

  /**
   * Answers a client request that arrived while draining. The body is read (and dropped) first: answering and closing
   * while the client is still sending would reset the connection, and a reset does not say that nothing was stored.
   */
  private refuse(req: IncomingMessage, res: ServerResponse): void {
    const answer = () => {
      const body = JSON.stringify(this.refusal().toJSON());
      res.writeHead(503, {
        "Content-Type": "application/json; charset=utf-8",
        "Content-Length": Buffer.byteLength(body),
        "Retry-After": String(RETRY_AFTER_SECONDS),
        // The connection goes with the answer, so the client's next request opens one to a node that stays.
        Connection: "close",
      });
      res.end(body);
    };
    if (req.complete) return answer();
    req.resume();
    req.once("end", answer);
    req.once("error", () => res.destroy());
  }

  private refusal(): DynamoError {
    return new DynamoError("not_ready", `${this.self} is shutting down and takes no new requests; send this one to another node`);
  }

  private idle(): boolean {
    return this.clientRequests === 0 && this.peerRequests === 0;
  }

  private settle(): void {
    if (!this.draining || !this.idle()) return;
    for (const wake of [...this.waiters]) wake();
  }
}
