/**
 * Errors that cross a module boundary. Each has a stable `code`; the HTTP layer maps codes to statuses through one
 * table (`DynamoError.httpStatus`), and the CLI maps them to exit codes. Operating failures (a peer down, a timeout) travel as
 * these values; broken invariants are plain `Error`s thrown by `assert` and are bugs.
 */

export type ErrorCode =
  | "invalid_request"
  | "not_found"
  | "unknown_bucket"
  | "value_too_large"
  | "too_many_siblings"
  | "record_too_large"
  | "unauthorized"
  | "forbidden"
  | "request_timeout"
  | "unavailable"
  | "not_ready"
  | "internal";

const HTTP_STATUS: Record<ErrorCode, number> = {
  invalid_request: 400,
  unauthorized: 401,
  forbidden: 403,
  request_timeout: 408,
  not_found: 404,
  unknown_bucket: 404,
  too_many_siblings: 409,
  record_too_large: 409,
  value_too_large: 413,
  internal: 500,
  unavailable: 503,
  not_ready: 503,
};

/** Whether a code received from elsewhere (a peer's error frame, an admin API answer) is one of ours. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === "string" && Object.hasOwn(HTTP_STATUS, code);
}

export class DynamoError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "DynamoError";
    this.code = code;
  }

  get httpStatus(): number {
    return HTTP_STATUS[this.code];
  }

  toJSON(): { error: ErrorCode; message: string } {
    return { error: this.code, message: this.message };
  }
}

export function invalidRequest(message: string, cause?: unknown): DynamoError {
  return new DynamoError("invalid_request", message, { cause });
}

/** Fails loudly when an invariant does not hold: that is a bug, not an operating error. */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`invariant violated: ${message}`);
}
