/**
 * The operator's custom metrics API server: HTTPS with its own serving certificate, registered with kube-apiserver's
 * aggregation layer by an APIService (the chart creates it). It answers only the aggregator (auth.ts), authorizes
 * every user with a SubjectAccessReview, and computes the values from the storage nodes' own metrics (scraper.ts).
 */
import { createServer, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { TLSSocket } from "node:tls";
import type { KubeApi } from "../kube/api-client.js";
import { objectPath } from "../kube/api-client.js";
import { MetricsApiError, apiGroup, apiGroupList, apiResourceList, metricValueList, parseRequest, status, type MetricsRequest } from "./api.js";
import { AUTHENTICATION_CONFIGMAP, accessReview, allowedClient, requestHeaderConfig, userFromHeaders, type RequestHeaderConfig, type UserInfo } from "./auth.js";
import { DEFAULT_SCRAPE, NodeScraper } from "./scraper.js";

export const DEFAULT_CUSTOM_METRICS_SERVER = {
  /** How often the front-proxy CA, the header names and the serving certificate are read again (all may rotate). */
  authRefreshMs: 60_000,
  /** How long an authorization decision is reused: the HPA controller asks the same thing every 15 s. */
  decisionCacheMs: 10_000,
  maxDecisions: 1_000,
  /** Within the aggregator's own proxy timeout, so the HPA gets this server's error rather than a cut connection. */
  requestTimeoutMs: 25_000,
  scrape: DEFAULT_SCRAPE,
};

export interface CustomMetricsServerOptions {
  port: number;
  /** Address to listen on; every address when unset. */
  host?: string;
  /**
   * The serving certificate and key (PEM), which the APIService's caBundle must vouch for. Read again with the
   * aggregation layer's settings, so a renewed certificate (a Secret the kubelet updates in place) is served without
   * a restart.
   */
  tls: () => { cert: string; key: string };
  /** The namespace the operator watches; requests for others are refused, as the operator has no rights there. */
  namespace?: string;
  log: (message: string) => void;
}

export class CustomMetricsServer {
  private server: Server | undefined;
  private auth: RequestHeaderConfig | undefined;
  private serving: { cert: string; key: string } | undefined;
  private refreshTimer: NodeJS.Timeout | undefined;
  private readonly decisions = new Map<string, { atMs: number; allowed: boolean; reason: string }>();
  private readonly scraper: NodeScraper;

  constructor(
    private readonly api: KubeApi,
    private readonly options: CustomMetricsServerOptions,
    private readonly settings = DEFAULT_CUSTOM_METRICS_SERVER,
  ) {
    this.scraper = new NodeScraper(api, settings.scrape, options.log);
  }

  /** Starts listening once the aggregation layer's settings are read; resolves to the port (useful with port 0). */
  async start(): Promise<number> {
    this.auth = await this.readAuth();
    this.serving = this.options.tls();
    const server = createServer(
      { ...this.serving, ca: this.auth.ca, requestCert: true, rejectUnauthorized: false, requestTimeout: this.settings.requestTimeoutMs },
      (req, res) => void this.handle(req, res),
    );
    this.server = server;
    this.refreshTimer = setInterval(() => void this.refreshAuth(), this.settings.authRefreshMs);
    this.refreshTimer.unref();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.options.port, this.options.host, () => resolve());
    });
    const address = server.address();
    const port = typeof address === "object" && address ? address.port : this.options.port;
    this.options.log(`custom metrics API (custom.metrics.k8s.io/v1beta2) listening on port ${port}`);
    return port;
  }

  async stop(): Promise<void> {
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async readAuth(): Promise<RequestHeaderConfig> {
    const { namespace, name } = AUTHENTICATION_CONFIGMAP;
    const configMap = await this.api.get<{ data?: Record<string, string> }>(objectPath("v1", "configmaps", namespace, name));
    return requestHeaderConfig(configMap.data);
  }

  private async refreshAuth(): Promise<void> {
    try {
      const auth = await this.readAuth();
      const serving = this.options.tls();
      if (auth.ca !== this.auth?.ca || serving.cert !== this.serving?.cert || serving.key !== this.serving?.key) {
        this.server?.setSecureContext({ ...serving, ca: auth.ca });
        this.options.log("custom metrics: serving with a new front-proxy CA or serving certificate");
      }
      this.auth = auth;
      this.serving = serving;
    } catch (err) {
      this.options.log(`custom metrics: could not read the aggregation layer's settings or the serving certificate (keeping the previous ones): ${(err as Error).message}`);
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const auth = this.auth!;
      const socket = req.socket as TLSSocket;
      const subject = socket.authorized ? socket.getPeerCertificate()?.subject : undefined;
      const commonName = Array.isArray(subject?.CN) ? subject.CN[0] : subject?.CN;
      if (!socket.authorized || !allowedClient(commonName, auth)) {
        throw new MetricsApiError(401, "the custom metrics API answers only kube-apiserver's aggregation layer (a client certificate from its front-proxy CA); ask through the API server: kubectl get --raw /apis/custom.metrics.k8s.io/v1beta2");
      }
      const user = userFromHeaders(req.headers, auth);
      if (!user) throw new MetricsApiError(401, "the aggregation layer sent no user");
      if (req.method !== "GET") throw new MetricsApiError(405, `${req.method} is not supported: the custom metrics API is read-only`);
      const url = req.url ?? "/";
      const request = parseRequest(url);
      await this.authorize(user, request, new URL(url, "https://localhost").pathname);
      send(res, 200, await this.answer(request));
    } catch (err) {
      if (err instanceof MetricsApiError) {
        send(res, err.code, status(err.code, err.message));
      } else {
        this.options.log(`custom metrics: ${req.url}: ${(err as Error).message}`);
        send(res, 500, status(500, `the operator could not compute the metrics: ${(err as Error).message}`));
      }
    }
  }

  private async answer(request: MetricsRequest): Promise<unknown> {
    if (request.kind === "groups") return apiGroupList();
    if (request.kind === "group") return apiGroup();
    if (request.kind === "discovery") return apiResourceList();
    if (this.options.namespace && request.namespace !== this.options.namespace) {
      throw new MetricsApiError(404, `this operator manages DynamoClusters in namespace ${this.options.namespace} only, not ${request.namespace}`);
    }
    const values = await this.scraper.values(request.namespace, request.pod, request.labelSelector, request.metric);
    return metricValueList(request.namespace, request.metric, values);
  }

  /** Asks the API server whether the user may make this request; decisions are reused for a few seconds. */
  private async authorize(user: UserInfo, request: MetricsRequest, path: string): Promise<void> {
    const review = accessReview(user, request, path) as { spec: unknown };
    const key = JSON.stringify(review.spec);
    const now = Date.now();
    let decision = this.decisions.get(key);
    if (!decision || now - decision.atMs > this.settings.decisionCacheMs) {
      const answer = await this.api.create<{ status?: { allowed?: boolean; reason?: string } }>("/apis/authorization.k8s.io/v1/subjectaccessreviews", review);
      decision = { atMs: now, allowed: answer.status?.allowed === true, reason: answer.status?.reason ?? "" };
      if (this.decisions.size >= this.settings.maxDecisions) this.decisions.clear();
      this.decisions.set(key, decision);
    }
    if (!decision.allowed) {
      const what = request.kind === "values" ? `get ${request.metric.name} of pods in namespace ${request.namespace}` : `get ${path}`;
      throw new MetricsApiError(403, `user "${user.user}" cannot ${what} (custom.metrics.k8s.io)${decision.reason ? `: ${decision.reason}` : ""}`);
    }
  }
}

function send(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}
