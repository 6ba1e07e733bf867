/**
 * The storage nodes' image when a DynamoCluster names none: the operator's `--default-image` (the Helm chart passes
 * the image it runs the operator from), or else `ringkv/dynamo` at this build's own version. A tag, never `latest`:
 * the kubelet then pulls it only when it is missing (IfNotPresent), so clusters also work where the image was loaded
 * onto the nodes instead of pulled from a registry.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const IMAGE_REPOSITORY = "ringkv/dynamo";
const PACKAGE_NAME = "dynamo-on-kubernetes";

/** This build's version, from the package.json above this file (the repository's, or /app's in the image). */
export function buildVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, "package.json");
    if (existsSync(candidate)) {
      const pkg = JSON.parse(readFileSync(candidate, "utf8")) as { name?: string; version?: string };
      if (pkg.name === PACKAGE_NAME && pkg.version) return pkg.version;
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json of ${PACKAGE_NAME} above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

export function defaultStorageImage(): string {
  return `${IMAGE_REPOSITORY}:${buildVersion()}`;
}
