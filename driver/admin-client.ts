/**
 * A client for nodes' admin API on the peer port, shared by everything that drives a cluster from outside (the
 * `dynamo dev` supervisor, the RingDriver, the operator). Every call carries the cluster token and a timeout, and
 * failures come back as DynamoErrors naming the node.
 */
import { DynamoError } from "../node/errors/index.js";
import { parseRing } from "../node/ring/index.js";
import type { Ring } from "../node/ring/types.js";

export interface NodeInfo {
  id: string;
  incarnation: string;
  epoch: number;
  clientUrl: string;
  peerUrl: string;
  ready: boolean;
}

export class AdminClient {
  constructor(
    private readonly token: string,
    private readonly timeoutMs = 5000,
  ) {}

  async node(peerUrl: string): Promise<NodeInfo> {
    return (await this.call(peerUrl, "GET", "/v1/admin/node")) as NodeInfo;
  }

  /** The node's ring, or undefined when it has none yet. */
  async ring(peerUrl: string): Promise<Ring | undefined> {
    try {
      return parseRing(await this.call(peerUrl, "GET", "/v1/admin/ring"));
    } catch (err) {
      if (err instanceof DynamoError && err.code === "not_found") return undefined;
      throw err;
    }
  }

  async installRing(peerUrl: string, ring: Ring): Promise<{ installed: boolean; epoch: number }> {
    return (await this.call(peerUrl, "PUT", "/v1/admin/ring", ring)) as { installed: boolean; epoch: number };
  }

  async call(peerUrl: string, method: string, path: string, body?: unknown): Promise<unknown> {
    let res: Response;
    try {
      res = await fetch(new URL(path, peerUrl), {
        method,
        headers: { Authorization: `Bearer ${this.token}`, ...(body === undefined ? {} : { "Content-Type": "application/json" }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new DynamoError("unavailable", `${method} ${peerUrl}${path} failed: ${(err as Error).message}`, { cause: err });
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const e = json as { error?: string; message?: string } | undefined;
      const code = (e?.error ?? (res.status >= 500 ? "unavailable" : "invalid_request")) as DynamoError["code"];
      throw new DynamoError(code, `${method} ${peerUrl}${path}: HTTP ${res.status}: ${e?.message ?? text.slice(0, 200)}`);
    }
    return json;
  }
}
