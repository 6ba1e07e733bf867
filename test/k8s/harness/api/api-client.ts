// A deliberately small HTTPS client for the Kubernetes API server, used by the harness itself (the
// add-ons, the volume provisioner and the fixture) and the tests. The harness needs only JSON requests,
// three kinds of patch and line-delimited watches, with client-certificate or bearer-token
// credentials; owning those few lines keeps the harness independent of any client library's
// calling conventions, while the tests exercise @kubernetes/client-node against the same server.
import { request } from "node:https";

export interface ApiCredentials {
  server: string;
  caPem: string;
  certPem?: string;
  keyPem?: string;
  token?: string;
}

export type PatchType = "merge" | "strategic" | "json";

const PATCH_CONTENT_TYPES: Record<PatchType, string> = {
  merge: "application/merge-patch+json",
  strategic: "application/strategic-merge-patch+json",
  json: "application/json-patch+json",
};

export const DEFAULT_API_CLIENT = {
  requestTimeoutMs: 30_000,
  responseBytesMax: 64 * 1024 * 1024,
};

/** An API server answer other than 2xx; `status` and `reason` come from the Status object. */
export class ApiError extends Error {
  readonly code = "k8s_api_error";
  constructor(
    readonly statusCode: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export interface WatchEvent<T> {
  type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
  object: T;
}

export interface Watch {
  /** Resolves when the server closes the stream or `stop` was called. */
  done: Promise<void>;
  stop(): void;
}

export class ApiClient {
  constructor(readonly credentials: ApiCredentials) {}

  get<T = unknown>(path: string): Promise<T> {
    return this.send<T>("GET", path);
  }

  /** The body as text, unparsed: container logs, plain-text health endpoints. */
  text(path: string): Promise<string> {
    return this.send<string>("GET", path, undefined, "application/json", true);
  }

  /** Like `get`, but answers undefined for a 404 instead of throwing. */
  async find<T = unknown>(path: string): Promise<T | undefined> {
    try {
      return await this.get<T>(path);
    } catch (err) {
      if (err instanceof ApiError && err.statusCode === 404) return undefined;
      throw err;
    }
  }

  post<T = unknown>(path: string, body: unknown): Promise<T> {
    return this.send<T>("POST", path, body);
  }

  put<T = unknown>(path: string, body: unknown): Promise<T> {
    return this.send<T>("PUT", path, body);
  }

  patch<T = unknown>(path: string, body: unknown, type: PatchType = "merge"): Promise<T> {
    return this.send<T>("PATCH", path, body, PATCH_CONTENT_TYPES[type]);
  }

  delete<T = unknown>(path: string, body?: unknown): Promise<T> {
    return this.send<T>("DELETE", path, body);
  }

  /**
   * Streams watch events for a collection path (query string allowed) until the server ends the
   * watch or `stop` is called. Callers re-list and re-watch; this keeps no resume state.
   */
  watch<T>(path: string, onEvent: (event: WatchEvent<T>) => void): Watch {
    const separator = path.includes("?") ? "&" : "?";
    const url = new URL(`${path}${separator}watch=true`, this.credentials.server);
    let stopped = false;
    let stopRequest = (): void => {};
    const done = new Promise<void>((resolve, reject) => {
      const req = request(url, { ...this.tlsOptions(), method: "GET", headers: this.headers() }, (res) => {
        if ((res.statusCode ?? 0) >= 300) {
          res.resume();
          reject(new ApiError(res.statusCode ?? 0, "WatchFailed", `watch ${path}: HTTP ${res.statusCode}`));
          return;
        }
        let buffered = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          buffered += chunk;
          let newline = buffered.indexOf("\n");
          while (newline >= 0) {
            const line = buffered.slice(0, newline).trim();
            buffered = buffered.slice(newline + 1);
            if (line && !stopped) onEvent(JSON.parse(line) as WatchEvent<T>);
            newline = buffered.indexOf("\n");
          }
        });
        res.on("end", () => resolve());
        res.on("error", () => resolve());
        res.on("close", () => resolve());
      });
      req.on("error", (err) => (stopped ? resolve() : reject(err)));
      req.end();
      stopRequest = () => req.destroy();
    });
    return {
      done,
      stop: () => {
        stopped = true;
        stopRequest();
      },
    };
  }

  private tlsOptions(): { ca: string; cert?: string; key?: string } {
    const { caPem, certPem, keyPem } = this.credentials;
    return certPem && keyPem ? { ca: caPem, cert: certPem, key: keyPem } : { ca: caPem };
  }

  // A body always goes with an explicit Content-Length: Node would otherwise send a DELETE body
  // chunked, and the API server then answers the next request on the same kept-alive connection
  // with a bare "400 Bad Request".
  private headers(contentType?: string, payload?: string): Record<string, string> {
    const headers: Record<string, string> = { Accept: "application/json" };
    if (contentType) headers["Content-Type"] = contentType;
    if (payload !== undefined) headers["Content-Length"] = String(Buffer.byteLength(payload));
    if (this.credentials.token) headers.Authorization = `Bearer ${this.credentials.token}`;
    return headers;
  }

  private send<T>(method: string, path: string, body?: unknown, contentType = "application/json", raw = false): Promise<T> {
    const url = new URL(path, this.credentials.server);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise<T>((resolve, reject) => {
      const req = request(
        url,
        {
          ...this.tlsOptions(),
          method,
          headers: this.headers(payload === undefined ? undefined : contentType, payload),
          timeout: DEFAULT_API_CLIENT.requestTimeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on("data", (chunk: Buffer) => {
            size += chunk.length;
            if (size > DEFAULT_API_CLIENT.responseBytesMax) req.destroy(new Error(`${method} ${path}: response too large`));
            else chunks.push(chunk);
          });
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) {
              resolve((raw ? text : parseBody(text)) as T);
              return;
            }
            let reason = "Unknown";
            let message = text;
            try {
              const parsed = JSON.parse(text) as { reason?: string; message?: string };
              reason = parsed.reason ?? reason;
              message = parsed.message ?? message;
            } catch {
              // Not a Status object (for example a plain-text /readyz answer): keep the raw text.
            }
            reject(new ApiError(status, reason, `${method} ${path}: HTTP ${status} ${reason}: ${message}`));
          });
        },
      );
      req.on("timeout", () => req.destroy(new Error(`${method} ${path}: no answer within ${DEFAULT_API_CLIENT.requestTimeoutMs} ms`)));
      req.on("error", reject);
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }
}

/** True for the API errors that mean "someone else changed or removed it; look again". */
export function isConflictOrGone(err: unknown): boolean {
  return err instanceof ApiError && (err.statusCode === 409 || err.statusCode === 404);
}

// Health endpoints such as /readyz answer plain text; everything else is JSON.
function parseBody(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
