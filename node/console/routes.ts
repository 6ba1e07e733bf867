/**
 * The console's routes on the client port, kept apart from the key-value API: `GET /v1/node` (this node's account of
 * itself, for tools such as the kubectl plugin), and, unless the console is turned off, `GET /ui/` (a read-only page of
 * plain static files: ring, members, moves, rates, rebalance progress) with its data at `GET /ui/api/overview`. The
 * page loads nothing from anywhere else, which its Content-Security-Policy enforces.
 *
 * The overview asks every member for its stats on its admin API (peer port, with the cluster token), so one page shows
 * the whole cluster from whichever node serves it. Building it is bounded: members are asked at most once a second
 * however many pages poll, and each answer has a deadline.
 */
import express, { type Request, type Response } from "express";
import { readFileSync } from "node:fs";
import { DynamoError } from "../errors/index.js";
import { peerPortRequest } from "../peer/index.js";
import type { ClientTlsOptions } from "../tls/index.js";
import { sendError } from "../http/index.js";
import type { ClusterView } from "../cluster/index.js";
import { nodeStatsSchema, type NodeStats } from "../stats/index.js";
import { buildOverview, type MemberLiveness, type Overview } from "./overview.js";

export const DEFAULT_CONSOLE = {
  /** An overview is rebuilt at most this often; pages polling in between get the last one. */
  overviewTtlMs: 1000,
  /** How long a member may take to send its stats before the page shows it without them. */
  memberTimeoutMs: 1500,
};

export interface ConsoleDeps {
  /** Serve the page; `GET /v1/node` is served either way. */
  enabled: boolean;
  /** The ring, the members' liveness and this node's name, as the node sees them. */
  cluster: Pick<ClusterView, "self" | "ring" | "isUp" | "phi">;
  token: string;
  /** This node's TLS material for calling members' peer ports (undefined when they run in plaintext). */
  tls?: () => ClientTlsOptions;
  stats: () => NodeStats;
  phiThreshold: number;
  log: (message: string) => void;
}

/** The page's files: read once at start, served from memory, and nothing else under /ui is a file. */
const ASSETS: Record<string, string> = {
  "index.html": "text/html; charset=utf-8",
  "console.js": "text/javascript; charset=utf-8",
  "console.css": "text/css; charset=utf-8",
};

const SECURITY_HEADERS = {
  "X-Content-Type-Options": "nosniff",
  "Cache-Control": "no-cache",
  "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'",
  "Referrer-Policy": "no-referrer",
};

export function createConsoleRoutes(deps: ConsoleDeps, options = DEFAULT_CONSOLE): express.Router {
  const router = express.Router();
  router.get("/v1/node", (_req, res) => {
    res.json(deps.stats());
  });
  if (!deps.enabled) {
    router.all(/^\/ui(\/.*)?$/, (_req, res) => sendError(res, new DynamoError("not_found", "the console is turned off on this node (dynamo node --console off)")));
    return router;
  }
  const files = new Map(Object.keys(ASSETS).map((name) => [name, readFileSync(new URL(`./static/${name}`, import.meta.url))]));
  const overview = new OverviewCache(deps, options);
  const serve = (name: string) => (_req: Request, res: Response) => {
    res.set(SECURITY_HEADERS).type(ASSETS[name]!).send(files.get(name));
  };
  router.get("/ui", (req, res) => {
    // The page's links are relative, so it must be served under a slash (also behind a proxy's path prefix).
    if (!req.originalUrl.split("?")[0]!.endsWith("/")) return res.redirect(301, "ui/");
    serve("index.html")(req, res);
  });
  for (const name of Object.keys(ASSETS)) router.get(`/ui/${name}`, serve(name));
  router.get("/ui/api/overview", (_req, res, next) => {
    overview.get().then((o) => res.set(SECURITY_HEADERS).json(o), next);
  });
  return router;
}

/** The newest overview, rebuilt at most once per TTL, with one build in flight at a time. */
class OverviewCache {
  private last: { at: number; overview: Overview } | undefined;
  private building: Promise<Overview> | undefined;

  constructor(
    private readonly deps: ConsoleDeps,
    private readonly options: typeof DEFAULT_CONSOLE,
  ) {}

  get(): Promise<Overview> {
    if (this.last && Date.now() - this.last.at < this.options.overviewTtlMs) return Promise.resolve(this.last.overview);
    this.building ??= this.build().finally(() => (this.building = undefined));
    return this.building;
  }

  private async build(): Promise<Overview> {
    const { deps } = this;
    const { cluster } = deps;
    const ring = cluster.ring();
    const liveness = (id: string): MemberLiveness => ({ up: cluster.isUp(id), phi: cluster.phi(id) });
    const stats = new Map<string, NodeStats | { error: string }>();
    await Promise.all(
      Object.values(ring?.members ?? {}).map(async (member) => {
        if (member.id === cluster.self) stats.set(member.id, deps.stats());
        else if (!cluster.isUp(member.id)) stats.set(member.id, { error: "down as this node sees it" });
        else stats.set(member.id, await this.memberStats(member.peerUrl));
      }),
    );
    const overview = buildOverview({ self: cluster.self, ring, liveness, phiThreshold: deps.phiThreshold, stats, nowMs: Date.now() });
    this.last = { at: Date.now(), overview };
    return overview;
  }

  private async memberStats(peerUrl: string): Promise<NodeStats | { error: string }> {
    try {
      const res = await peerPortRequest(new URL("/v1/admin/stats", peerUrl), {
        method: "GET",
        token: this.deps.token,
        timeoutMs: this.options.memberTimeoutMs,
        tls: this.deps.tls,
        answerBytesMax: 1024 * 1024,
      });
      if (res.status !== 200) return { error: `its admin API answered ${res.status}` };
      const parsed = nodeStatsSchema.safeParse(JSON.parse(res.text));
      return parsed.success ? parsed.data : { error: "its stats did not match this node's schema (a different version?)" };
    } catch (err) {
      return { error: (err as Error).message };
    }
  }
}
