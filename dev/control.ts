/**
 * The supervisor's control API, which `dynamo dev status|kill|restart|scale|replace` talk to. It listens on an
 * ephemeral loopback port written to dev.json and needs the cluster token, like the nodes' admin API.
 */
import express, { type NextFunction, type Request, type Response } from "express";
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import { DynamoError } from "../node/errors/index.js";
import { sendError } from "../node/http/index.js";
import { bearerToken, tokenMatches } from "../node/peer/index.js";
import type { DevCluster } from "./supervisor.js";

export async function startControlServer(cluster: DevCluster, host: string): Promise<{ server: Server; url: string }> {
  const app = express();
  app.disable("x-powered-by");
  app.use((req, res, next) => {
    if (!tokenMatches(cluster.token, bearerToken(req.headers.authorization))) {
      sendError(res, new DynamoError("unauthorized", "the control API needs the token from the data directory"));
      return;
    }
    next();
  });
  app.use(express.json());
  const route = (handler: (req: Request) => Promise<unknown>) => (req: Request, res: Response, next: NextFunction) => {
    handler(req).then((body) => res.json(body), next);
  };
  app.get("/status", route(() => cluster.status()));
  app.post(
    "/nodes/:index/kill",
    route(async (req) => {
      const node = cluster.node(parseIndex(req.params.index));
      await cluster.stopNode(node, { crash: true });
      return { killed: node.id };
    }),
  );
  app.post(
    "/nodes/:index/restart",
    route(async (req) => {
      const node = cluster.node(parseIndex(req.params.index));
      await cluster.restartNode(node);
      return { restarted: node.id };
    }),
  );
  app.post("/restart-rolling", route(() => cluster.restartRolling()));
  app.post(
    "/nodes/:index/replace",
    route(async (req) => cluster.replace(parseIndex(req.params.index))),
  );
  app.post(
    "/scale",
    route(async (req) => {
      const nodes = (req.body as { nodes?: unknown })?.nodes;
      if (typeof nodes !== "number" || !Number.isInteger(nodes)) throw new DynamoError("invalid_request", "expected {\"nodes\": N}");
      return cluster.scale(nodes);
    }),
  );
  app.use((req, res) => sendError(res, new DynamoError("not_found", `no control route for ${req.method} ${req.path}`)));
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    sendError(res, controlError(err));
  });
  const server = createServer(app);
  server.listen(0, host);
  await once(server, "listening");
  const address = server.address();
  if (!address || typeof address === "string") throw new Error("control server has no port");
  return { server, url: `http://${host}:${address.port}` };
}

/** A request the body parser refused (malformed JSON, too large) is the caller's mistake, not the supervisor's. */
function controlError(err: unknown): DynamoError {
  if (err instanceof DynamoError) return err;
  const status = (err as { status?: unknown }).status;
  if (typeof status === "number" && status >= 400 && status < 500) {
    return new DynamoError("invalid_request", `the request body was refused: ${(err as Error).message}`);
  }
  return new DynamoError("internal", (err as Error).message);
}

function parseIndex(text: string | string[] | undefined): number {
  if (typeof text !== "string" || !/^[0-9]+$/.test(text)) throw new DynamoError("invalid_request", `node index must be a whole number, got '${String(text)}'`);
  return Number(text);
}
