/**
 * Client-driven coordination (the Dynamo paper, §6.4): the client keeps a copy of the ring and sends each request
 * straight to a replica of its key, which saves the hop a node takes when it has to forward a request it holds no
 * replica for. A write goes to the first live replica in the key's preference list (so that replica coordinates it,
 * as the nodes would), a read to any replica in turn (spreading the load); after them come the client's base URLs,
 * so a request still has every node to fall back on.
 *
 * The ring is learned from `GET /v1/ring` and computed with the nodes' own preference-list functions
 * (node/ring/client-view.ts). It is fetched again, at most once per `refreshIntervalMinMs` and one fetch at a time,
 * when a node names a newer ring in a response header (`X-Dynamo-Ring-Version`, `X-Dynamo-Misdirected`), and
 * otherwise re-validated with `If-None-Match` once it is `ringMaxAgeMs` old. No request ever waits for the ring:
 * until it is known, requests go round-robin as without routing. A node that refused a connection, timed out or
 * answered `503` is passed over for `downMs` (doubling while it keeps failing, up to `downMaxMs`), then tried again.
 *
 * This module holds the state and the decisions; it does no I/O itself (the client hands it a `fetchRing` function),
 * so its rules are unit-tested with a clock and literal answers.
 */
import { compareRingVersions, decodeRingView, parseRingVersion, replicasOf, RING_VERSION_HEADER, MISDIRECTED_HEADER, type DecodedRingView } from "../node/ring/client-view.js";
import type { RawResponse } from "./response.js";
import { normalizeBaseUrl } from "./url.js";

export interface RoutingOptions {
  /** The shortest time between two ring fetches, whatever asks for them: hints cannot cause a refresh storm. */
  refreshIntervalMinMs: number;
  /** A ring this old is re-validated (a cheap `304` when unchanged) on the next request. */
  ringMaxAgeMs: number;
  /** How long a node that failed is passed over at first; doubled on each further failure. */
  downMs: number;
  downMaxMs: number;
}

export const DEFAULT_ROUTING_OPTIONS: RoutingOptions = {
  refreshIntervalMinMs: 1_000,
  ringMaxAgeMs: 30_000,
  downMs: 1_000,
  downMaxMs: 30_000,
};

/** Nodes remembered as failed; past this many the oldest entries are forgotten, which only makes them tried again. */
const DOWN_ENTRIES_MAX = 1_024;

/** A ring fetch's answer: the status, its ETag, and for a 200 the parsed JSON body. */
export interface RingAnswer {
  status: number;
  etag?: string;
  body?: unknown;
}

export interface RouterDeps {
  /** The user's base URLs, normalized: where the ring is fetched from and where requests fall back to. */
  baseUrls: readonly string[];
  /** `GET {url}/v1/ring`, conditional on `etag` when given. */
  fetchRing: (url: string, etag: string | undefined) => Promise<RingAnswer>;
  now: () => number;
  options?: Partial<RoutingOptions>;
  /** Told about refreshes that failed (a bad view, a node that would not answer); the client keeps routing by what it has. */
  onError?: (error: Error) => void;
}

interface Known {
  view: DecodedRingView;
  etag: string | undefined;
  /** The client URL of each member that has a usable one. */
  urls: Map<string, string>;
  checkedAt: number;
}

export class RingRouter {
  readonly #deps: RouterDeps;
  readonly #options: RoutingOptions;
  #known: Known | undefined;
  #refreshing: Promise<void> | undefined;
  #nextRefreshAt = 0;
  #refreshFailures = 0;
  #fetchTurn = 0;
  #readTurn = 0;
  readonly #down = new Map<string, { until: number; failures: number }>();
  /** Counts for tests and benchmarks: ring fetches started, and of those the ones answered 304. */
  readonly stats = { fetches: 0, notModified: 0, failures: 0 };

  constructor(deps: RouterDeps) {
    this.#deps = deps;
    this.#options = { ...DEFAULT_ROUTING_OPTIONS, ...deps.options };
  }

  /** `TERM.EPOCH` of the ring routed by, sent with each request so nodes can say when it is stale. */
  get version(): string | undefined {
    const v = this.#known?.view.version;
    return v === undefined ? undefined : `${v.term}.${v.epoch}`;
  }

  /**
   * The URLs to try for a request on `bucket`/`key`, in order, or undefined when the ring (or the bucket's n) is not
   * known yet and the caller should go round-robin. Starts a refresh when the ring is missing or old.
   */
  candidates(bucket: string, key: Buffer, kind: "read" | "write"): string[] | undefined {
    const now = this.#deps.now();
    const known = this.#known;
    if (!known || now - known.checkedAt >= this.#options.ringMaxAgeMs) this.refresh();
    if (!known) return undefined;
    const n = known.view.buckets.get(bucket);
    if (n === undefined) return undefined;
    const replicas: string[] = [];
    for (const id of replicasOf(known.view.ring, bucket, key, n)) {
      const url = known.urls.get(id);
      if (url !== undefined) replicas.push(url);
    }
    if (kind === "read" && replicas.length > 1) rotate(replicas, this.#readTurn++ % replicas.length);
    const ordered = [...replicas, ...this.#deps.baseUrls.filter((u) => !replicas.includes(u))];
    // Live nodes first, each group in its own order: a write still goes to the first live replica.
    const live = ordered.filter((u) => !this.#isDown(u, now));
    return live.length === ordered.length ? ordered : [...live, ...ordered.filter((u) => !live.includes(u))];
  }

  /** A node answered: it is up, and its ring headers may say ours is stale. */
  answered(url: string, response: RawResponse): void {
    this.#down.delete(url);
    const known = this.#known?.view.version;
    if (!known) return;
    for (const name of [RING_VERSION_HEADER, MISDIRECTED_HEADER]) {
      const raw = response.headers[name];
      const theirs = parseRingVersion(Array.isArray(raw) ? raw[0] : raw);
      if (theirs && compareRingVersions(theirs, known) > 0) {
        this.refresh();
        return;
      }
    }
  }

  /** A node could not be reached, timed out or is not ready: pass it over for a while. */
  failed(url: string): void {
    const now = this.#deps.now();
    const previous = this.#down.get(url);
    const failures = Math.min((previous?.failures ?? 0) + 1, 16);
    this.#down.delete(url);
    if (this.#down.size >= DOWN_ENTRIES_MAX) this.#down.delete(this.#down.keys().next().value as string);
    this.#down.set(url, { until: now + Math.min(this.#options.downMaxMs, this.#options.downMs * 2 ** (failures - 1)), failures });
  }

  /**
   * Fetches the ring unless a fetch is running or the last one started less than `refreshIntervalMinMs` ago (longer
   * after failures, doubling up to `ringMaxAgeMs`). Resolves when the fetch it started, or the one running, is done.
   */
  refresh(): Promise<void> {
    if (this.#refreshing) return this.#refreshing;
    const now = this.#deps.now();
    if (now < this.#nextRefreshAt) return Promise.resolve();
    const backoff = Math.min(this.#options.ringMaxAgeMs, this.#options.refreshIntervalMinMs * 2 ** Math.min(this.#refreshFailures, 16));
    this.#nextRefreshAt = now + backoff;
    this.#refreshing = this.#fetch().finally(() => (this.#refreshing = undefined));
    return this.#refreshing;
  }

  async #fetch(): Promise<void> {
    this.stats.fetches += 1;
    const url = this.#fetchUrl();
    try {
      const answer = await this.#deps.fetchRing(url, this.#known?.etag);
      if (answer.status === 304 && this.#known) {
        this.stats.notModified += 1;
        this.#known.checkedAt = this.#deps.now();
      } else if (answer.status === 200) {
        this.#install(decodeRingView(answer.body), answer.etag);
      } else {
        throw new Error(`GET ${url}/v1/ring answered ${answer.status}`);
      }
      this.#refreshFailures = 0;
      this.#down.delete(url);
    } catch (error) {
      this.stats.failures += 1;
      this.#refreshFailures += 1;
      this.#deps.onError?.(error as Error);
    }
  }

  /** Base URLs in turn, skipping those passed over, so one dead node does not keep the ring from being learned. */
  #fetchUrl(): string {
    const urls = this.#deps.baseUrls;
    const now = this.#deps.now();
    for (let i = 0; i < urls.length; i++) {
      const url = urls[(this.#fetchTurn + i) % urls.length]!;
      if (!this.#isDown(url, now)) {
        this.#fetchTurn = (this.#fetchTurn + i + 1) % urls.length;
        return url;
      }
    }
    const url = urls[this.#fetchTurn % urls.length]!;
    this.#fetchTurn = (this.#fetchTurn + 1) % urls.length;
    return url;
  }

  /** Takes a fetched view unless it is older than the one held (a node that is behind): rings only move forward. */
  #install(view: DecodedRingView, etag: string | undefined): void {
    const now = this.#deps.now();
    if (this.#known && compareRingVersions(view.version, this.#known.view.version) < 0) {
      this.#known.checkedAt = now;
      return;
    }
    const urls = new Map<string, string>();
    for (const member of Object.values(view.ring.members)) {
      try {
        urls.set(member.id, normalizeBaseUrl(member.clientUrl));
      } catch {
        // A member whose URL this client cannot use is left out; its keys go to their other replicas.
      }
    }
    this.#known = { view, etag, urls, checkedAt: now };
  }

  #isDown(url: string, now: number): boolean {
    const entry = this.#down.get(url);
    return entry !== undefined && entry.until > now;
  }
}

function rotate<T>(items: T[], by: number): void {
  if (by > 0) items.push(...items.splice(0, by));
}
