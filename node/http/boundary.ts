/**
 * The edges every express app of the project shares (the client API, the admin API on the peer port, the `dynamo dev`
 * control API): the bearer-token gate, the answer for a route that does not exist, and the error boundary that turns
 * whatever a handler threw into the JSON error `{"error", "message"}` with the status its code maps to, never a stack
 * trace. One set of rules, so the three ports cannot drift apart.
 */
import type { ServerResponse } from "node:http";
import type { ErrorRequestHandler, RequestHandler } from "express";
import { DynamoError } from "../errors/index.js";
import { bearerToken, tokenMatches } from "../peer/index.js";
import { closeIfBodyUnread } from "./body.js";

export function sendError(res: ServerResponse, err: DynamoError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  closeIfBodyUnread(res.req, res);
  sendJson(res, err.httpStatus, err.toJSON());
}

/** A JSON answer exactly as express's `res.status(status).json(body)` gives it, without express on the hot path. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader("Content-Type", "application/json; charset=utf-8");
  res.setHeader("Content-Length", Buffer.byteLength(text));
  res.end(text);
}

/** Lets through only requests carrying `Authorization: Bearer <token>`; the rest get 401 with `refusal`. */
export function requireBearerToken(token: string, refusal: string): RequestHandler {
  return (req, res, next) => {
    if (tokenMatches(token, bearerToken(req.headers.authorization))) return next();
    sendError(res, new DynamoError("unauthorized", refusal));
  };
}

/** The last route of an app: 404 naming what was asked for. */
export function noRoute(what = "route"): RequestHandler {
  return (req, res) => sendError(res, new DynamoError("not_found", `no ${what} for ${req.method} ${req.path}`));
}

/** The error handler of an app: see `toDynamoError`. */
export function errorBoundary(log: (message: string) => void): ErrorRequestHandler {
  return (err: unknown, _req, res, _next) => sendError(res, toDynamoError(err, log));
}

/**
 * A DynamoError is answered as it is; a request the body parser refused (malformed JSON, too large: it carries a 4xx
 * `status`) is the caller's mistake; anything else is a bug, logged with its stack and answered as a bare 500.
 */
export function toDynamoError(err: unknown, log: (message: string) => void): DynamoError {
  if (err instanceof DynamoError) return err;
  const e = err as { status?: unknown; message?: string };
  if (typeof e.status === "number" && e.status >= 400 && e.status < 500) return new DynamoError("invalid_request", e.message ?? "bad request");
  log(`internal error: ${(err as Error)?.stack ?? String(err)}`);
  return new DynamoError("internal", "internal error; see the log");
}
