/**
 * A client for nodes' admin API on the peer port, shared by everything that drives a cluster from outside (the
 * `dynamo dev` supervisor, the RingDriver, the operator). Every call carries the cluster token and a timeout, every
 * answer is parsed with the schema the node builds it from (node/protocol), and failures come back as DynamoErrors
 * naming the node. `https` peer URLs are called with mutual TLS: the node must present a certificate from the
 * cluster CA before the token is sent, and this client presents its own.
 */
import { Agent as HttpAgent, type Agent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import type { z } from "zod";
import { DynamoError, isErrorCode, type ErrorCode } from "../node/errors/index.js";
import {
  ADMIN_PATHS,
  adminErrorSchema,
  faultsSchema,
  localRecordSchema,
  nodeConfigViewSchema,
  nodeInfoSchema,
  nodeStatsSchema,
  ringInstallSchema,
  transfersSchema,
  type Faults,
  type LocalRecord,
  type NodeConfigView,
  type NodeInfo,
  type NodeStats,
  type RingInstall,
  type TransfersReport,
} from "../node/protocol/index.js";
import { peerPortRequest, type PeerPortAnswer } from "../node/peer/index.js";
import { parseRing } from "../node/ring/index.js";
import { RecentMap } from "../lib/recent-map.js";
import type { Ring } from "../node/ring/types.js";
import type { ClientTlsOptions } from "../node/tls/index.js";

export type { NodeInfo };

/**
 * What the RingDriver asks of the nodes' admin API: who they are (with the transfers they receive), their rings, and
 * installing a ring.
 */
export type RingAdmin = Pick<AdminClient, "node" | "ring" | "installRing">;

/**
 * Connections to nodes' peer ports kept open between admin calls, for a caller that asks the same nodes again and
 * again (the `dynamo dev` supervisor and the operator, each second while a ring changes): a kept connection spares
 * every call a mutual-TLS handshake, the certificates parsed on both ends. A connection idle for 4 s is closed by
 * this side, before the node's own 5 s keep-alive timeout; one the node closes anyway as a call goes out is retried
 * (peerPortRequest). Connections with different TLS material are kept apart, so a rotated certificate is presented
 * on new ones. `secure` for `https` peer URLs.
 */
export function keptAliveAgent(secure: boolean): Agent {
  const options = { keepAlive: true, timeout: 4000, maxFreeSockets: 4 };
  return secure ? new HttpsAgent(options) : new HttpAgent(options);
}

/**
 * Bounds of what an admin client keeps of the rings it read (see `ring`): the ETag of each node's last ring, and the
 * rings themselves, the most recently used. An operator drives many clusters, each with its own ring.
 */
const RING_TAGS_KEPT = 4096;
const RINGS_KEPT = 64;

export class AdminClient {
  private readonly ringTags = new RecentMap<string, string>(RING_TAGS_KEPT);
  private readonly rings = new RecentMap<string, Ring>(RINGS_KEPT);

  constructor(
    private readonly token: string,
    private readonly timeoutMs = 5000,
    /** TLS material for `https` peer URLs, read at every call so a rotated certificate is used at once. */
    private readonly tls?: () => ClientTlsOptions,
    /** Connections to reuse (see PeerPortRequest.agent); by default one per call. */
    private readonly agent?: Agent,
  ) {}

  async node(peerUrl: string): Promise<NodeInfo> {
    return this.call(peerUrl, "GET", ADMIN_PATHS.node, nodeInfoSchema);
  }

  /**
   * The node's ring, or undefined when it has none yet. The ETag of the last ring read from each node is kept, and
   * the node answers 304 without a body while it still runs that ring: a driver looks at every node's ring at every
   * look, and a ring (its owners, the plan's transfers) is tens of kilobytes to send, parse and check. Rings are kept by
   * ETag, so the nodes of one cluster, which run the same ring, share one parsed copy.
   */
  async ring(peerUrl: string): Promise<Ring | undefined> {
    const knownTag = this.ringTags.get(peerUrl);
    const known = knownTag === undefined ? undefined : this.rings.get(knownTag);
    let answer: { json: unknown; etag?: string; notModified: boolean };
    try {
      answer = await this.request(peerUrl, "GET", ADMIN_PATHS.ring, undefined, knownTag !== undefined && known ? { "If-None-Match": knownTag } : undefined);
    } catch (err) {
      if (err instanceof DynamoError && err.code === "not_found") return undefined;
      throw err;
    }
    if (answer.notModified && known) return known;
    const shared = answer.etag === undefined ? undefined : this.rings.get(answer.etag);
    let ring: Ring;
    try {
      ring = shared ?? parseRing(answer.json);
    } catch (err) {
      throw new DynamoError("unavailable", `GET ${peerUrl}${ADMIN_PATHS.ring} answered a malformed ring: ${(err as Error).message}`);
    }
    if (answer.etag !== undefined) {
      this.ringTags.set(peerUrl, answer.etag);
      this.rings.set(answer.etag, ring);
    }
    return ring;
  }

  async installRing(peerUrl: string, ring: Ring): Promise<RingInstall> {
    return this.call(peerUrl, "PUT", ADMIN_PATHS.ring, ringInstallSchema, ring);
  }

  async transfers(peerUrl: string): Promise<TransfersReport> {
    return this.call(peerUrl, "GET", ADMIN_PATHS.transfers, transfersSchema);
  }

  /** The node's account of itself: disk, rates, hints per target, anti-entropy, transfers, recent history. */
  async stats(peerUrl: string): Promise<NodeStats> {
    return this.call(peerUrl, "GET", ADMIN_PATHS.stats, nodeStatsSchema);
  }

  /** A node's own copy of a key, without asking any other replica. */
  async localRecord(peerUrl: string, bucket: string, key: string): Promise<LocalRecord> {
    return this.call(peerUrl, "GET", `${ADMIN_PATHS.local}${bucket}/${encodeURIComponent(key)}`, localRecordSchema);
  }

  /** The buckets the node serves and the limits that shape what it stores. */
  async config(peerUrl: string): Promise<NodeConfigView> {
    return this.call(peerUrl, "GET", ADMIN_PATHS.config, nodeConfigViewSchema);
  }

  /** Cuts the node's peer network from the members named (fault injection; nodes started for tests only). */
  async setFaults(peerUrl: string, faults: Faults): Promise<Faults> {
    return this.call(peerUrl, "PUT", ADMIN_PATHS.faults, faultsSchema, faults);
  }

  private async call<S extends z.ZodType>(peerUrl: string, method: string, path: string, schema: S, body?: unknown): Promise<z.output<S>> {
    const json = await this.raw(peerUrl, method, path, body);
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      const problems = parsed.error.issues.slice(0, 3).map((i) => `${i.path.join(".") || "(answer)"}: ${i.message}`).join("; ");
      throw new DynamoError("unavailable", `${method} ${peerUrl}${path} answered something malformed: ${problems}`);
    }
    return parsed.data;
  }

  private async raw(peerUrl: string, method: string, path: string, body?: unknown): Promise<unknown> {
    return (await this.request(peerUrl, method, path, body)).json;
  }

  /** One admin call; `notModified` when the node answered 304 to an `If-None-Match` in `headers`. */
  private async request(peerUrl: string, method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ json: unknown; etag?: string; notModified: boolean }> {
    let res: PeerPortAnswer;
    try {
      res = await peerPortRequest(new URL(path, peerUrl), {
        method,
        token: this.token,
        body: body === undefined ? undefined : JSON.stringify(body),
        headers,
        timeoutMs: this.timeoutMs,
        tls: this.tls,
        agent: this.agent,
      });
    } catch (err) {
      throw new DynamoError("unavailable", `${method} ${peerUrl}${path} failed: ${(err as Error).message}`, { cause: err });
    }
    const text = res.text;
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (res.status === 304 && headers?.["If-None-Match"] !== undefined) return { json: undefined, etag: res.etag, notModified: true };
    if (res.status < 200 || res.status >= 300) {
      const error = adminErrorSchema.safeParse(json);
      const code: ErrorCode = error.success && isErrorCode(error.data.error) ? error.data.error : res.status >= 500 ? "unavailable" : "invalid_request";
      throw new DynamoError(code, `${method} ${peerUrl}${path}: HTTP ${res.status}: ${error.success ? error.data.message : text.slice(0, 200)}`);
    }
    return { json, etag: res.etag, notModified: false };
  }
}
