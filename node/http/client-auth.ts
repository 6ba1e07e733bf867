/**
 * Client authentication on the client port: bearer tokens, each with a scope per bucket, `r` (read) or `rw` (read and
 * write), and `*` for every bucket not named. The server keeps only SHA-256 digests of the tokens, never the tokens:
 * tokens are 256-bit random strings made by `dynamo token create`, so a fast digest is as safe as a slow password
 * hash and costs about a microsecond per request. A presented token is hashed and compared with every entry in
 * constant time, so how long a refusal takes says nothing about which bytes were close.
 *
 * The tokens file is YAML or JSON (a Kubernetes Secret mounts it as a file):
 *
 *     tokens:
 *       - name: cart-service
 *         sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
 *         grants: { carts: rw, "*": r }
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { digestBytes } from "../../lib/digest.js";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { BUCKET_NAME_PATTERN } from "../config/index.js";
import { DynamoError } from "../errors/index.js";
import { bearerToken } from "../peer/index.js";

export type Scope = "r" | "rw";

export const TOKEN_NAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9._-]{0,62}$/;
/** Generated tokens start with this, so a leaked one is easy to recognise (and to search for in a code base). */
export const TOKEN_PREFIX = "dyn_";

const grantsSchema = z.record(z.string(), z.enum(["r", "rw"])).superRefine((grants, ctx) => {
  const keys = Object.keys(grants);
  if (keys.length === 0) ctx.addIssue({ code: "custom", message: "a token needs at least one grant" });
  for (const key of keys) {
    if (key !== "*" && !BUCKET_NAME_PATTERN.test(key)) {
      ctx.addIssue({ code: "custom", path: [key], message: `'${key}' is neither a bucket name ([a-z0-9][a-z0-9_-]{0,62}) nor "*"` });
    }
  }
});

export const clientTokenEntrySchema = z
  .object({
    name: z.string().regex(TOKEN_NAME_PATTERN, "token names are 1-63 letters, digits, '.', '_' or '-'"),
    sha256: z.string().regex(/^[0-9a-f]{64}$/, "sha256 is the token's SHA-256 digest in 64 lower-case hex digits"),
    grants: grantsSchema,
  })
  .strict();

export type ClientTokenEntry = z.output<typeof clientTokenEntrySchema>;

export const clientTokensFileSchema = z
  .object({ tokens: z.array(clientTokenEntrySchema) })
  .strict()
  .superRefine((file, ctx) => {
    const names = new Set<string>();
    const digests = new Set<string>();
    for (const entry of file.tokens) {
      if (names.has(entry.name)) ctx.addIssue({ code: "custom", message: `token '${entry.name}' is listed twice` });
      if (digests.has(entry.sha256)) ctx.addIssue({ code: "custom", message: `token '${entry.name}' has the same digest as another token` });
      names.add(entry.name);
      digests.add(entry.sha256);
    }
  });

export type ClientTokensFile = z.output<typeof clientTokensFileSchema>;

export function hashClientToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

/** A new token: the prefix and 32 random bytes, base64url. */
export function generateClientToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString("base64url");
}

/** Parses the text of a tokens file; every problem is named with where it is. */
export function parseClientTokens(text: string, source: string): ClientTokensFile {
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (err) {
    throw new DynamoError("invalid_request", `client tokens file ${source} is not valid YAML or JSON: ${(err as Error).message}`);
  }
  const result = clientTokensFileSchema.safeParse(document ?? { tokens: [] });
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
    throw new DynamoError("invalid_request", `invalid client tokens file ${source}: ${problems}`);
  }
  return result.data;
}

/** Who a request is from, once its token matched. */
export interface ClientIdentity {
  name: string;
  grants: Readonly<Record<string, Scope>>;
}

interface Entry {
  digest: Buffer;
  identity: ClientIdentity;
}

/** The tokens a node accepts right now; swapped whole when the file changes. */
export class ClientTokens {
  readonly #entries: Entry[];

  constructor(file: ClientTokensFile) {
    this.#entries = file.tokens.map((t) => ({ digest: Buffer.from(t.sha256, "hex"), identity: { name: t.name, grants: t.grants } }));
  }

  get size(): number {
    return this.#entries.length;
  }

  /** The identity whose token this is, or undefined. Every entry is compared, whichever matches. */
  identify(token: string): ClientIdentity | undefined {
    const digest = digestBytes("sha256", token);
    let found: ClientIdentity | undefined;
    for (const entry of this.#entries) {
      if (timingSafeEqual(entry.digest, digest)) found = entry.identity;
    }
    return found;
  }
}

/** The scope an identity has on a bucket: the bucket's own grant, else the `*` grant, else none. */
export function scopeOn(identity: ClientIdentity, bucket: string): Scope | undefined {
  return identity.grants[bucket] ?? identity.grants["*"];
}

export type AccessNeed = { kind: "open" } | { kind: "any" } | { kind: "bucket"; bucket: string; scope: Scope };

/**
 * Decides a request: undefined when it may go on, else the error to answer with. `401 unauthorized` when the token
 * is missing or matches none, `403 forbidden` when it matches but its grants do not cover what the request needs.
 */
export function authorize(tokens: ClientTokens, authorization: string | undefined, need: AccessNeed): DynamoError | undefined {
  if (need.kind === "open") return undefined;
  const token = bearerToken(authorization);
  if (token === undefined) return new DynamoError("unauthorized", "this node requires a client token: send 'Authorization: Bearer <token>'");
  const identity = tokens.identify(token);
  if (!identity) return new DynamoError("unauthorized", "the client token is not valid (unknown, revoked, or mistyped)");
  if (need.kind === "any") return undefined;
  const scope = scopeOn(identity, need.bucket);
  if (scope === "rw" || (scope === "r" && need.scope === "r")) return undefined;
  const has = scope === undefined ? "no access to it" : "read access only";
  return new DynamoError("forbidden", `token '${identity.name}' may not ${need.scope === "rw" ? "write to" : "read"} bucket '${need.bucket}' (it has ${has})`);
}
