/**
 * The supervisor's control API, which `dynamo dev status|kill|restart|scale|replace` talk to. It listens on an
 * ephemeral loopback port written to dev.json and needs the cluster token, like the nodes' admin API.
 */
import express, { type NextFunction, type Request, type Response } from "express";
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import { DynamoError } from "../node/errors/index.js";
import { errorBoundary, noRoute, requireBearerToken } from "../node/http/index.js";
import type { DevCluster } from "./supervisor.js";

export async function startControlServer(cluster: DevCluster, host: string, log: (message: string) => void): Promise<{ server: Server; url: string }> {
  const app = express();
  app.disable("x-powered-by");
  app.use(requireBearerToken(cluster.token, "the control API needs the token from the data directory"));
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
  app.use(noRoute("control route"));
  app.use(errorBoundary(log));
  const server = createServer(app);
  server.listen(0, host);
  await once(server, "listening");
  const address = server.address();
  if (!address || typeof address === "string") throw new Error("control server has no port");
  return { server, url: `http://${host}:${address.port}` };
}

function parseIndex(text: string | string[] | undefined): number {
  if (typeof text !== "string" || !/^[0-9]+$/.test(text)) throw new DynamoError("invalid_request", `node index must be a whole number, got '${String(text)}'`);
  return Number(text);
}
