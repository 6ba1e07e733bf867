/**
 * The shared token that guards the peer port. Every admin request and every peer stream must present it; the
 * comparison runs in constant time so the token cannot be guessed byte by byte from response timings.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { DynamoError } from "../errors/index.js";

export function tokenMatches(expected: string, presented: string | undefined): boolean {
  if (presented === undefined) return false;
  const a = createHash("sha256").update(expected).digest();
  const b = createHash("sha256").update(presented).digest();
  return timingSafeEqual(a, b);
}

/**
 * The token of an `Authorization: Bearer <token>` header, or undefined when there is none; the one reading of the
 * header for the peer, admin, control and client ports.
 */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return match?.[1];
}

export function readTokenFile(path: string): string {
  let token: string;
  try {
    token = readFileSync(path, "utf8").trim();
  } catch (err) {
    throw new DynamoError("invalid_request", `cannot read token file ${path}: ${(err as Error).message}`);
  }
  if (token.length < 16) throw new DynamoError("invalid_request", `token in ${path} is shorter than 16 characters`);
  return token;
}
