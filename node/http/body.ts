/**
 * Reading a client request body with every limit applied while it arrives, never after: a declared Content-Length
 * over the value limit is refused before a byte is read (and before `100 Continue` is sent), a chunked body is cut
 * off the moment it passes the limit, bytes are taken from the node-wide body budget before they are held, and the
 * whole body must arrive within a deadline. Any refusal leaves the rest of the body unread; the error answer then
 * closes the connection (see `closeIfBodyUnread`).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { DynamoError } from "../errors/index.js";
import type { BudgetLease } from "./byte-budget.js";
import { LeanRequest } from "./lean-front.js";

export interface BodyLimits {
  valueMaxBytes: number;
  timeoutMs: number;
  /** The node-wide budget's capacity, for messages. */
  budgetBytes: number;
}

/** Whether a request carries a body at all: a non-zero Content-Length or any Transfer-Encoding. */
export function hasBody(req: IncomingMessage): boolean {
  const length = req.headers["content-length"];
  return req.headers["transfer-encoding"] !== undefined || (length !== undefined && length !== "0");
}

/**
 * An answer sent before the body was read to its end must close the connection: the unread remainder would otherwise
 * be read and thrown away (for as long as the client cares to send it) before the next request could be parsed.
 */
export function closeIfBodyUnread(req: IncomingMessage, res: ServerResponse): void {
  if (!req.complete && hasBody(req) && !res.headersSent) res.setHeader("Connection", "close");
}

export function readBody(req: IncomingMessage, res: ServerResponse, lease: BudgetLease, limits: BodyLimits): Promise<Buffer> {
  const declared = req.headers["content-length"];
  const chunked = req.headers["transfer-encoding"] !== undefined;
  if (!chunked && (declared === undefined || declared === "0")) return Promise.resolve(Buffer.alloc(0));
  // Node's parser has already refused malformed or conflicting lengths; a chunked body ignores the header.
  const length = chunked ? undefined : Number(declared);
  if (length !== undefined && length > limits.valueMaxBytes) {
    return Promise.reject(tooLarge(limits, `the request declares ${length} bytes`));
  }
  if (length !== undefined && !lease.tryTake(length)) return Promise.reject(overBudget(limits));
  // The lean front serves only requests whose body has arrived whole, and never one with an Expect.
  if (req instanceof LeanRequest) return Promise.resolve(req.body);
  if (/^100-continue$/i.test(req.headers.expect ?? "")) res.writeContinue();

  return new Promise<Buffer>((resolve, reject) => {
    const whole = length === undefined ? undefined : Buffer.allocUnsafe(length);
    const chunks: Buffer[] = [];
    let received = 0;
    const finish = (err: DynamoError | undefined) => {
      clearTimeout(timer);
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("close", onClose);
      if (!err) return resolve(whole ?? Buffer.concat(chunks, received));
      // Stop reading: whatever else the client sends is left to the connection's closing.
      req.pause();
      reject(err);
    };
    const onData = (chunk: Buffer) => {
      if (whole) {
        chunk.copy(whole, received);
        received += chunk.length;
        return;
      }
      if (received + chunk.length > limits.valueMaxBytes) return finish(tooLarge(limits, "the chunked body passed it"));
      if (!lease.tryTake(chunk.length)) return finish(overBudget(limits));
      chunks.push(chunk);
      received += chunk.length;
    };
    const onEnd = () => finish(undefined);
    const onClose = () => {
      if (!req.complete) finish(new DynamoError("invalid_request", "the client closed the connection before the whole body arrived"));
    };
    const timer = setTimeout(() => {
      finish(new DynamoError("request_timeout", `the request body did not arrive within ${limits.timeoutMs} ms (${received} bytes received)`));
    }, limits.timeoutMs);
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("close", onClose);
  });
}

function tooLarge(limits: BodyLimits, what: string): DynamoError {
  return new DynamoError("value_too_large", `the value is larger than the ${limits.valueMaxBytes}-byte limit: ${what}`);
}

function overBudget(limits: BodyLimits): DynamoError {
  return new DynamoError(
    "unavailable",
    `this node is holding as many request bodies as its ${limits.budgetBytes}-byte budget allows (tuning.clientBodyBudgetBytes); retry or use another node`,
  );
}
