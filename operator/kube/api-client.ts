/**
 * A small JSON client for the API server, on top of @kubernetes/client-node's KubeConfig for credentials (client
 * certificates, bearer tokens, in-cluster service accounts). The operator needs server-side apply with a field
 * manager, the status subresource, and a few reads and deletes; speaking JSON directly keeps the objects exactly as
 * the pure builders made them, with no model serialisation in between that could drop or add fields.
 */
import { request as httpRequest } from "node:http";
import { request as httpsRequest, type RequestOptions } from "node:https";
import type { KubeConfig, KubernetesObject } from "@kubernetes/client-node";

export const DEFAULT_API_CLIENT = {
  requestTimeoutMs: 30_000,
  responseBytesMax: 32 * 1024 * 1024,
};

/** The object calls a controller makes (read, server-side apply, create, delete): what its unit tests script. */
export type ObjectApi = Pick<KubeApi, "get" | "find" | "apply" | "create" | "delete">;

export class KubeApiError extends Error {
  readonly code = "kube_api";
  constructor(
    readonly statusCode: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = "KubeApiError";
  }
}

export const isNotFound = (err: unknown): boolean => err instanceof KubeApiError && err.statusCode === 404;
export const isConflict = (err: unknown): boolean => err instanceof KubeApiError && err.statusCode === 409;

/** The REST path of a namespaced or cluster-scoped object (or its collection, without a name). */
export function objectPath(apiVersion: string, plural: string, namespace: string | undefined, name?: string, subresource?: string): string {
  const base = apiVersion.includes("/") ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  const ns = namespace ? `/namespaces/${encodeURIComponent(namespace)}` : "";
  const tail = name ? `/${encodeURIComponent(name)}${subresource ? `/${subresource}` : ""}` : "";
  return `${base}${ns}/${plural}${tail}`;
}

const PLURALS: Record<string, string> = {
  ConfigMap: "configmaps",
  Secret: "secrets",
  Service: "services",
  PodDisruptionBudget: "poddisruptionbudgets",
  StatefulSet: "statefulsets",
  Pod: "pods",
  PersistentVolumeClaim: "persistentvolumeclaims",
  Lease: "leases",
  Event: "events",
  DynamoCluster: "dynamoclusters",
  DynamoBackup: "dynamobackups",
  DynamoScheduledBackup: "dynamoscheduledbackups",
  Job: "jobs",
  NetworkPolicy: "networkpolicies",
  Certificate: "certificates",
};

export function pathOf(object: KubernetesObject, subresource?: string): string {
  const plural = PLURALS[object.kind ?? ""];
  if (!plural || !object.apiVersion || !object.metadata?.name) throw new Error(`cannot address ${object.kind ?? "an object"} ${object.metadata?.name ?? ""}`);
  return objectPath(object.apiVersion, plural, object.metadata.namespace, object.metadata.name, subresource);
}

export class KubeApi {
  private readonly server: URL;

  constructor(
    private readonly kubeConfig: KubeConfig,
    private readonly options = DEFAULT_API_CLIENT,
  ) {
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error("the kubeconfig names no current cluster");
    this.server = new URL(cluster.server);
  }

  get<T>(path: string): Promise<T> {
    return this.send<T>("GET", path);
  }

  /** A GET whose answer is text rather than JSON (pod logs, a proxied /metrics). */
  getText(path: string): Promise<string> {
    return this.send<string>("GET", path, undefined, "application/json", true);
  }

  async find<T>(path: string): Promise<T | undefined> {
    try {
      return await this.get<T>(path);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** Server-side apply: the field manager owns exactly the fields it sends; `force` takes them over from others. */
  apply<T extends KubernetesObject>(object: T, fieldManager: string, subresource?: string): Promise<T> {
    const query = `?fieldManager=${encodeURIComponent(fieldManager)}&force=true`;
    return this.send<T>("PATCH", pathOf(object, subresource) + query, object, "application/apply-patch+yaml");
  }

  create<T>(path: string, body: unknown): Promise<T> {
    return this.send<T>("POST", path, body);
  }

  replace<T>(path: string, body: unknown): Promise<T> {
    return this.send<T>("PUT", path, body);
  }

  mergePatch<T>(path: string, body: unknown): Promise<T> {
    return this.send<T>("PATCH", path, body, "application/merge-patch+json");
  }

  /** Deletes; a missing object counts as deleted. `uid` makes it a precondition, so a newer object is never hit. */
  async delete(path: string, preconditions?: { uid?: string }): Promise<void> {
    try {
      await this.send("DELETE", path, { apiVersion: "v1", kind: "DeleteOptions", preconditions, propagationPolicy: "Background" });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  private async send<T>(method: string, path: string, body?: unknown, contentType = "application/json", raw = false): Promise<T> {
    const url = new URL(path, this.server);
    const options: RequestOptions = {
      method,
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port,
      path: url.pathname + url.search,
      headers: { Accept: raw ? "*/*" : "application/json", ...(body === undefined ? {} : { "Content-Type": contentType }) },
      timeout: this.options.requestTimeoutMs,
    };
    await this.kubeConfig.applyToHTTPSOptions(options);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const requestFn = url.protocol === "http:" ? httpRequest : httpsRequest;
    return new Promise<T>((resolve, reject) => {
      const req = requestFn(options, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (chunk: Buffer) => {
          size += chunk.length;
          if (size > this.options.responseBytesMax) req.destroy(new Error(`${method} ${path}: response larger than ${this.options.responseBytesMax} bytes`));
          else chunks.push(chunk);
        });
        res.on("error", reject);
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let json: unknown;
          try {
            json = text ? JSON.parse(text) : undefined;
          } catch {
            json = undefined;
          }
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) return resolve((raw ? text : json) as T);
          const s = json as { reason?: string; message?: string } | undefined;
          reject(new KubeApiError(status, s?.reason ?? "Unknown", `${method} ${path}: ${status} ${s?.message ?? text.slice(0, 300)}`));
        });
      });
      req.on("timeout", () => req.destroy(new Error(`${method} ${path}: no answer within ${this.options.requestTimeoutMs} ms`)));
      req.on("error", reject);
      req.end(payload);
    });
  }
}
