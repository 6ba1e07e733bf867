/**
 * Raw HTTP helpers for tests that must see exact statuses, headers and bodies, including requests no well-behaved
 * client would send (bad percent-encoding, missing tokens).
 */
import { request as plainRequest } from "node:http";
import { request as tlsRequest } from "node:https";
import type { ClientTlsOptions } from "../../node/tls/index.js";

export interface RawReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  json(): unknown;
  text(): string;
}

/** One request; an `https` URL is called with `tls` (a client certificate and the CA to check the server against). */
export function http(
  method: string,
  url: string,
  options: { body?: Buffer | string; headers?: Record<string, string>; rawPath?: string; tls?: ClientTlsOptions | Record<string, unknown> } = {},
): Promise<RawReply> {
  const target = new URL(url);
  const request = target.protocol === "https:" ? tlsRequest : plainRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: target.hostname,
        port: target.port,
        method,
        path: options.rawPath ?? target.pathname + target.search,
        headers: options.headers,
        timeout: 30_000,
        ...(target.protocol === "https:" ? { ...options.tls, agent: false } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const body = Buffer.concat(chunks);
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body,
            json: () => JSON.parse(body.toString("utf8")),
            text: () => body.toString("utf8"),
          });
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error(`timeout: ${method} ${url}`)));
    req.on("error", reject);
    req.end(options.body);
  });
}

export function kvUrl(base: string, bucket: string, key: string, query = ""): string {
  return `${base}/v1/kv/${encodeURIComponent(bucket)}/${encodeURIComponent(key)}${query}`;
}

export function contextOf(reply: RawReply): string {
  const ctx = reply.headers["x-dynamo-context"];
  if (typeof ctx !== "string") throw new Error(`no X-Dynamo-Context in a ${reply.status} reply`);
  return ctx;
}
