/**
 * One HTTP request to a node's peer port (its admin API), over mutual TLS when the URL is `https`: the caller's
 * certificate is presented and the node's must chain to the cluster CA before the token leaves this process. A caller
 * holding TLS material never sends the token to a plain `http` URL. Used by the admin client of the RingDriver and by
 * the web console, which asks every member for its stats.
 */
import { request as httpRequest, type Agent, type IncomingMessage } from "node:http";
import { request as httpsRequest, type RequestOptions as HttpsRequestOptions } from "node:https";
import { createSecureContext, type SecureContext } from "node:tls";
import { RecentMap } from "../../lib/recent-map.js";
import type { ClientTlsOptions } from "../tls/index.js";

export interface PeerPortRequest {
  method: string;
  token: string;
  /** JSON text. */
  body?: string;
  /** More request headers (`If-None-Match`, say). */
  headers?: Record<string, string>;
  timeoutMs: number;
  tls?: () => ClientTlsOptions;
  /** Bytes of the answer read at most. */
  answerBytesMax?: number;
  /**
   * The agent to send it through; by default a new connection per request (over TLS, a full handshake each time).
   * A keep-alive agent suits a caller that makes many requests to the same nodes, such as a test reading each
   * replica's copy of thousands of keys (an https.Agent for https URLs: it keeps connections apart by TLS material).
   */
  agent?: Agent;
}

/** A node's answer: its status, its body as text, and its ETag when it sent one. */
export interface PeerPortAnswer {
  status: number;
  text: string;
  etag?: string;
}

export async function peerPortRequest(url: URL, options: PeerPortRequest): Promise<PeerPortAnswer> {
  try {
    return await attempt(url, options);
  } catch (err) {
    // A kept-alive connection the node closed (its idle timeout, a restart) just as this request went out on it fails
    // before any answer, and the node closed it without reading the request; every admin call is safe to repeat (a
    // ring the node already holds is answered as installed), so it is sent once more on a new connection. Other
    // failures are the caller's to see.
    if (!(err instanceof StaleConnectionError)) throw err;
    return attempt(url, options);
  }
}

/** The request failed on a reused connection before any answer came. */
class StaleConnectionError extends Error {}

function attempt(url: URL, options: PeerPortRequest): Promise<PeerPortAnswer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...options.headers, Authorization: `Bearer ${options.token}` };
    if (options.body !== undefined) headers["Content-Type"] = "application/json";
    const base = { method: options.method, headers, timeout: options.timeoutMs };
    const limit = options.answerBytesMax ?? 64 * 1024 * 1024;
    const onResponse = (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let bytes = 0;
      res.on("data", (c: Buffer) => {
        bytes += c.length;
        if (bytes > limit) res.destroy(new Error(`the answer passed ${limit} bytes`));
        else chunks.push(c);
      });
      const etag = res.headers.etag;
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8"), ...(etag ? { etag } : {}) }));
      res.on("error", reject);
    };
    let req;
    if (url.protocol === "https:") {
      if (!options.tls) {
        reject(new Error("the node's URL is https but this caller has no TLS material"));
        return;
      }
      const tls = options.tls();
      // https passes `secureContext` on to tls.connect, which then uses it instead of building one from the material;
      // the material stays in the options because a keep-alive agent tells its connections apart by it.
      const tlsOptions: HttpsRequestOptions & { secureContext: SecureContext } = { ...base, ...tls, secureContext: secureContextFor(tls), agent: options.agent ?? false };
      req = httpsRequest(url, tlsOptions, onResponse);
    } else if (options.tls) {
      reject(new Error("the node's URL is plain http but this caller only talks TLS to nodes"));
      return;
    } else {
      req = httpRequest(url, options.agent ? { ...base, agent: options.agent } : base, onResponse);
    }
    req.on("timeout", () => req.destroy(new Error(`no answer within ${options.timeoutMs} ms`)));
    let answered = false;
    req.on("response", () => (answered = true));
    req.on("error", (err: NodeJS.ErrnoException) => {
      const stale = req.reusedSocket && !answered && (err.code === "ECONNRESET" || err.code === "EPIPE");
      reject(stale ? new StaleConnectionError(err.message, { cause: err }) : err);
    });
    req.end(options.body);
  });
}

/**
 * Secure contexts by the material they hold, most recently used last. Without an agent every call is a new
 * connection, and building its context (parsing the key and the certificates) cost the `dynamo dev` supervisor 408 ms
 * of CPU in a 15 s rebalance step; the same material gets the same context now, and new material (a rotation) a new
 * one at its first call.
 */
const secureContexts = new RecentMap<string, SecureContext>(8);

function secureContextFor(material: { ca: string; cert: string; key: string }): SecureContext {
  const id = `${material.ca}\u0000${material.cert}\u0000${material.key}`;
  let context = secureContexts.get(id);
  if (!context) {
    context = createSecureContext(material);
    secureContexts.set(id, context);
  }
  return context;
}
