/**
 * The admin API on the peer port, used by the RingDriver (operator or `dynamo dev`) and by people debugging a node.
 * Every request must carry the shared token as `Authorization: Bearer <token>`; without it the answer is 401 and
 * nothing else is revealed.
 */
import express from "express";
import { ringHash } from "../cluster/index.js";
import { DynamoError } from "../errors/index.js";
import { ADMIN_PATHS, faultsSchema, type LocalRecord, type NodeConfigView, type NodeInfo, type NodeStats, type RingInstall, type TransfersReport } from "../protocol/index.js";
import { parseRing } from "../ring/index.js";
import type { Ring } from "../ring/types.js";
import { errorBoundary, noRoute, requireBearerToken, sendError } from "./boundary.js";
import { parseKvPath } from "./request.js";

export interface AdminApiDeps {
  token: string;
  node: () => NodeInfo;
  ring: () => Ring | undefined;
  installRing: (ring: Ring) => Promise<boolean>;
  /** This node's own copy of a key, without asking any other replica (for operators and tests). */
  localRecord: (bucket: string, key: Buffer) => Promise<LocalRecord>;
  /** Progress of the transfers this node receives. */
  transfers: () => TransfersReport;
  /** The node's account of itself (the same as `GET /v1/node` on the client port), for the other members' consoles. */
  stats: () => NodeStats;
  /** The buckets the node serves and the limits that shape what it stores. */
  config: () => NodeConfigView;
  /** Present only when the node runs with fault injection enabled. */
  setCut?: (memberIds: string[]) => void;
  log: (message: string) => void;
}

export function createAdminApi(deps: AdminApiDeps): express.Express {
  const app = express();
  app.disable("x-powered-by");
  app.disable("etag");
  app.use(requireBearerToken(deps.token, "the peer port needs the cluster token as 'Authorization: Bearer <token>'"));
  app.use(express.json({ limit: "16mb" }));

  app.get(ADMIN_PATHS.node, (_req, res) => {
    res.json(deps.node());
  });
  app.get(ADMIN_PATHS.ring, (req, res) => {
    const ring = deps.ring();
    if (!ring) {
      sendError(res, new DynamoError("not_found", "this node has no ring yet"));
      return;
    }
    // The ring's content hash names it: a driver that holds this ring already (it looks at every node's ring each
    // second or faster while a ring changes) gets 304 and no body, and parses nothing.
    const tag = `"${ringHash(ring)}"`;
    res.setHeader("ETag", tag);
    if (req.headers["if-none-match"] === tag) {
      res.status(304).end();
      return;
    }
    res.json(ring);
  });
  app.put(ADMIN_PATHS.ring, (req, res, next) => {
    const ring = parseRing(req.body);
    deps.installRing(ring).then((installed) => {
      const current = deps.ring();
      if (installed) deps.log(`installed ring epoch ${ring.epoch} from the admin API`);
      else deps.log(`refused ring epoch ${ring.epoch} (term ${ring.term ?? 0}): this node runs epoch ${current?.epoch ?? 0} of term ${current?.term ?? 0}`);
      res.json({ installed, epoch: current?.epoch ?? 0, term: current?.term ?? 0 } satisfies RingInstall);
    }, next);
  });

  app.get(ADMIN_PATHS.transfers, (_req, res) => {
    res.json(deps.transfers());
  });
  app.get(ADMIN_PATHS.stats, (_req, res) => {
    res.json(deps.stats());
  });
  app.get(ADMIN_PATHS.config, (_req, res) => {
    res.json(deps.config());
  });
  app.get(new RegExp(`^${ADMIN_PATHS.local}`), (req, res, next) => {
    const { bucket, key } = parseKvPath(req.originalUrl.split("?")[0]!.replace(ADMIN_PATHS.local, "/v1/kv/"));
    deps.localRecord(bucket, key).then((record) => res.json(record), next);
  });
  app.put(ADMIN_PATHS.faults, (req, res) => {
    if (!deps.setCut) {
      sendError(res, new DynamoError("invalid_request", "fault injection is disabled; start the node with DYNAMO_FAULT_INJECTION=1"));
      return;
    }
    const parsed = faultsSchema.safeParse(req.body);
    if (!parsed.success) {
      sendError(res, new DynamoError("invalid_request", "expected {\"cut\": [member ids]}"));
      return;
    }
    deps.setCut(parsed.data.cut);
    deps.log(`fault injection: network to [${parsed.data.cut.join(", ")}] is cut`);
    res.json(parsed.data);
  });

  app.use(noRoute());
  app.use(errorBoundary((message) => deps.log(`admin API: ${message}`)));
  return app;
}
