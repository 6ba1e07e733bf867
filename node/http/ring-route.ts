/**
 * What the client port offers clients that route requests themselves (Dynamo's client-driven coordination): the ring
 * view at `GET /v1/ring`, cacheable by its ETag, and two response headers on key-value requests that tell such a
 * client its ring is stale. Both headers are computed only for requests that carry `X-Dynamo-Ring-Version` (the
 * version the client routed by), so round-robin clients and the hot path of every other request pay nothing.
 *
 * - `X-Dynamo-Ring-Version: TERM.EPOCH` when this node's ring differs from the one the client named.
 * - `X-Dynamo-Misdirected: TERM.EPOCH` when, by this node's ring, it holds no replica of the key: it forwarded the
 *   write to a replica (or read from all of them remotely), an extra hop the client routes around once it has learned
 *   the newer ring.
 */
import { createHash } from "node:crypto";
import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import type { RequestHandler } from "express";
import type { BucketConfig } from "../config/index.js";
import { DynamoError } from "../errors/index.js";
import type { NodeMetrics } from "../metrics/index.js";
import { encodeRingView, MISDIRECTED_HEADER, replicasOf, RING_VERSION_HEADER, ringVersion } from "../ring/index.js";
import type { Ring } from "../ring/types.js";
import { sendError } from "./boundary.js";
import { parseKvPath } from "./request.js";

export interface ClientRingDeps {
  self: string;
  ring: () => Ring | undefined;
  buckets: Map<string, BucketConfig>;
  metrics: NodeMetrics;
}

/** The encoded view of one ring; rings are values, so it is computed once per ring this node installs. */
interface EncodedView {
  ring: Ring;
  body: string;
  etag: string;
}

export class ClientRing {
  #encoded: EncodedView | undefined;

  constructor(private readonly deps: ClientRingDeps) {}

  /** `GET /v1/ring`: the view as JSON with its ETag, or `304` when `If-None-Match` names the current one. */
  readonly route: RequestHandler = (req, res) => {
    const view = this.#view();
    if (!view) {
      sendError(res, new DynamoError("not_ready", "this node has no ring yet"));
      return;
    }
    res.setHeader("ETag", view.etag);
    // Clients may keep the view but must ask again (cheaply, with If-None-Match) before trusting it later.
    res.setHeader("Cache-Control", "no-cache");
    res.setHeader(RING_VERSION_HEADER, ringVersion(view.ring));
    if (etagMatches(req.headers["if-none-match"], view.etag)) {
      this.deps.metrics.ringViews.inc({ status: "304" });
      res.statusCode = 304;
      res.end();
      return;
    }
    this.deps.metrics.ringViews.inc({ status: "200" });
    res.statusCode = 200;
    res.setHeader("Content-Type", "application/json; charset=utf-8");
    res.setHeader("Content-Length", Buffer.byteLength(view.body));
    res.end(view.body);
  };

  /** Wraps the client port's listener so key-value requests from routing clients get the ring headers. */
  withHints(listener: RequestListener): RequestListener {
    return (req, res) => {
      const asked = req.headers[RING_VERSION_HEADER];
      if (typeof asked === "string" && req.url?.startsWith("/v1/kv/")) this.#hint(req, res, asked);
      listener(req, res);
    };
  }

  #hint(req: IncomingMessage, res: ServerResponse, asked: string): void {
    const ring = this.deps.ring();
    if (!ring) return;
    const version = ringVersion(ring);
    if (asked !== version) res.setHeader(RING_VERSION_HEADER, version);
    const url = req.url as string;
    const q = url.indexOf("?");
    let bucket: BucketConfig | undefined;
    let key: Buffer;
    try {
      const path = parseKvPath(q < 0 ? url : url.slice(0, q));
      bucket = this.deps.buckets.get(path.bucket);
      key = path.key;
    } catch {
      // A malformed path gets its error from the route; there is nothing to hint about.
      return;
    }
    if (!bucket || replicasOf(ring, bucket.name, key, bucket.n).includes(this.deps.self)) return;
    this.deps.metrics.misdirected.inc();
    res.setHeader(MISDIRECTED_HEADER, version);
  }

  #view(): EncodedView | undefined {
    const ring = this.deps.ring();
    if (!ring) return undefined;
    if (this.#encoded?.ring === ring) return this.#encoded;
    const body = JSON.stringify(encodeRingView(ring, this.deps.buckets.values()));
    // The version names the ring; the digest covers the rest of the view (the buckets this node serves), so two nodes
    // with different bucket configurations never pass one's view for the other's.
    const digest = createHash("sha256").update(body).digest("hex").slice(0, 12);
    this.#encoded = { ring, body, etag: `"${ringVersion(ring)}-${digest}"` };
    return this.#encoded;
  }
}

/** RFC 9110's If-None-Match: a list of entity tags (weak ones compare by their opaque part), or `*`. */
function etagMatches(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  return header.split(",").some((tag) => {
    const t = tag.trim();
    return t === "*" || t === etag || t === `W/${etag}`;
  });
}
