/**
 * Secret `X-token`: the shared token every peer request and admin call carries. It is generated once, when the Secret
 * does not exist yet, and kept: rotating it under running nodes would cut them off from each other. The builder is
 * pure, so the caller passes the existing token or a freshly generated one.
 */
import { randomBytes } from "node:crypto";
import type { V1Secret } from "@kubernetes/client-node";
import type { DynamoCluster } from "../api/index.js";
import { objectNames, ownedMeta } from "./object-meta.js";

export const TOKEN_KEY = "token";
export const TOKEN_BYTES = 32;

export function buildSecret(cluster: DynamoCluster, token: string): V1Secret {
  if (token.length < 16) throw new Error("the cluster token must be at least 16 characters");
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: ownedMeta(cluster, objectNames(cluster.metadata.name).secret),
    type: "Opaque",
    // `data`, not `stringData`: the API server folds stringData into data and never stores it, so applying it on
    // every pass would look like a change each time.
    data: { [TOKEN_KEY]: Buffer.from(token, "utf8").toString("base64") },
  };
}

/** The token held by an existing Secret (from `data`, base64, or `stringData`), if any. */
export function tokenOf(secret: V1Secret | undefined): string | undefined {
  const encoded = secret?.data?.[TOKEN_KEY];
  if (encoded) return Buffer.from(encoded, "base64").toString("utf8");
  return secret?.stringData?.[TOKEN_KEY];
}

/** A new random token; the only impure function here, kept apart so builders stay pure. */
export function generateToken(random: (bytes: number) => Buffer = randomBytes): string {
  return random(TOKEN_BYTES).toString("base64url");
}
