/**
 * The one error type the client throws. It carries the HTTP status and the server's stable error code when the server
 * answered, or a client-side code when it did not (`network_error`, `timeout`), so callers branch on `code` rather
 * than on message text.
 */

/**
 * Codes the client itself produces. Server codes (`invalid_request`, `unknown_bucket`, `value_too_large`,
 * `unavailable`, ...) pass through unchanged from the `{"error", "message"}` body.
 */
export type ClientSideErrorCode =
  /** The connection could not be made or broke before a full response arrived. */
  | "network_error"
  /** The request's deadline passed before a full response arrived. */
  | "timeout"
  /** The server answered with something the API contract does not allow (missing header, malformed JSON). */
  | "invalid_response"
  /** The server answered with a non-success status but no `{"error", "message"}` body. */
  | "http_error"
  /** The caller passed an argument the server would reject anyway (empty key, bad bucket name). */
  | "invalid_request";

export class DynamoClientError extends Error {
  /** A server error code from the response body, or one of `ClientSideErrorCode`. */
  readonly code: string;
  /** The HTTP status when the server answered; undefined for network errors, timeouts and rejected arguments. */
  readonly status: number | undefined;
  /**
   * True when the request never reached a node's handlers, so nothing can have been stored: the connection was
   * refused, the node's kernel reset it with the request unread, or a kept-alive connection the node was closing
   * failed before any answer.
   */
  readonly notDelivered: boolean;

  constructor(code: string, message: string, options?: { status?: number; cause?: unknown; notDelivered?: boolean }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "DynamoClientError";
    this.code = code;
    this.status = options?.status;
    this.notDelivered = options?.notDelivered ?? false;
  }
}
