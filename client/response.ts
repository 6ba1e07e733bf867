/**
 * Pure interpretation of HTTP responses according to the Client HTTP API contract: which statuses mean success, where
 * the causal context travels, and how error bodies map to `DynamoClientError`. Kept free of I/O so every branch can
 * be unit-tested with literal responses.
 */
import { z } from "zod";
import { DynamoClientError } from "./errors.js";

export const CONTEXT_HEADER = "x-dynamo-context";
/** What the server is expected to send when a value was stored without a content type. */
export const DEFAULT_CONTENT_TYPE = "application/octet-stream";

export interface RawResponse {
  status: number;
  /** Header names in lower case; repeated headers already joined, as node:http delivers them. */
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export interface Sibling {
  value: Buffer;
  contentType: string;
}

export type GetResult =
  | { kind: "value"; value: Buffer; contentType: string; context: string }
  | { kind: "siblings"; siblings: Sibling[]; context: string }
  | { kind: "not_found"; context?: string };

export interface WriteResult {
  context: string;
}

export interface DeleteResult {
  /** The tombstone's context, when the server returns one. */
  context?: string;
}

const errorBodySchema = z.object({ error: z.string().min(1), message: z.string() });

const siblingsBodySchema = z.object({
  context: z.string().min(1),
  siblings: z.array(z.object({ value: z.base64(), contentType: z.string() })).min(1),
});

function header(response: RawResponse, name: string): string | undefined {
  const value = response.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function requiredContext(response: RawResponse): string {
  const context = header(response, CONTEXT_HEADER);
  if (context === undefined || context === "") {
    throw new DynamoClientError("invalid_response", `HTTP ${response.status} response has no X-Dynamo-Context header`, {
      status: response.status,
    });
  }
  return context;
}

function parseJson(response: RawResponse): unknown {
  try {
    return JSON.parse(response.body.toString("utf8"));
  } catch {
    return undefined;
  }
}

/** The error a non-success response stands for; the body's code and message when it has the contract's shape. */
export function errorFromResponse(response: RawResponse): DynamoClientError {
  const parsed = errorBodySchema.safeParse(parseJson(response));
  if (parsed.success) {
    return new DynamoClientError(parsed.data.error, parsed.data.message, { status: response.status });
  }
  const text = response.body.toString("utf8").trim().slice(0, 200);
  return new DynamoClientError("http_error", `HTTP ${response.status}${text === "" ? "" : `: ${text}`}`, {
    status: response.status,
  });
}

function parseSiblings(response: RawResponse): GetResult {
  const parsed = siblingsBodySchema.safeParse(parseJson(response));
  if (!parsed.success) {
    throw new DynamoClientError("invalid_response", `HTTP 300 body is not a siblings document: ${parsed.error.message}`, {
      status: 300,
    });
  }
  return {
    kind: "siblings",
    context: parsed.data.context,
    siblings: parsed.data.siblings.map((s) => ({ value: Buffer.from(s.value, "base64"), contentType: s.contentType })),
  };
}

/**
 * A 404 is "not found" unless its body names another code: `unknown_bucket` shares the status but is a caller error,
 * not an absent key, so it must not be confused with one.
 */
function parseNotFound(response: RawResponse): GetResult {
  const error = errorFromResponse(response);
  if (error.code !== "not_found" && error.code !== "http_error") throw error;
  const context = header(response, CONTEXT_HEADER);
  return context === undefined || context === "" ? { kind: "not_found" } : { kind: "not_found", context };
}

export function parseGetResponse(response: RawResponse): GetResult {
  switch (response.status) {
    case 200:
      return {
        kind: "value",
        value: response.body,
        contentType: header(response, "content-type") ?? DEFAULT_CONTENT_TYPE,
        context: requiredContext(response),
      };
    case 300:
      return parseSiblings(response);
    case 404:
      return parseNotFound(response);
    default:
      throw errorFromResponse(response);
  }
}

export function parsePutResponse(response: RawResponse): WriteResult {
  if (response.status !== 200 && response.status !== 204) throw errorFromResponse(response);
  return { context: requiredContext(response) };
}

export function parseDeleteResponse(response: RawResponse): DeleteResult {
  if (response.status !== 200 && response.status !== 204) throw errorFromResponse(response);
  const context = header(response, CONTEXT_HEADER);
  return context === undefined || context === "" ? {} : { context };
}

/** `GET /v1/cluster` is JSON whose exact fields the contract leaves open; it must at least be an object. */
export function parseClusterResponse(response: RawResponse): Record<string, unknown> {
  if (response.status !== 200) throw errorFromResponse(response);
  const body = parseJson(response);
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new DynamoClientError("invalid_response", "GET /v1/cluster did not return a JSON object", { status: 200 });
  }
  return body as Record<string, unknown>;
}
