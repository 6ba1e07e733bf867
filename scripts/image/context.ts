/**
 * The build context of the Dockerfile as a builder sees it: every file of the repository that .dockerignore lets
 * through. Its content hash (paths, executable bits and contents, in a fixed order) is the image's cache key, so the
 * image is rebuilt whenever anything the Dockerfile could copy changes, and never otherwise.
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, posix } from "node:path";
import { isIgnored } from "./dockerfile.js";

/** The context's files, as sorted paths relative to `root`, skipping ignored folders without descending into them. */
export function contextFiles(root: string, dockerignore: string): string[] {
  const files: string[] = [];
  const walk = (relative: string): void => {
    const entries = readdirSync(join(root, relative), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const path = relative ? posix.join(relative, entry.name) : entry.name;
      if (isIgnored(dockerignore, path)) continue;
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile() || entry.isSymbolicLink()) files.push(path);
    }
  };
  walk("");
  return files;
}

/** sha256 over the context's files: each path, whether it is executable, and its bytes. */
export function contextHash(root: string, dockerignore: string): string {
  const hash = createHash("sha256");
  for (const path of contextFiles(root, dockerignore)) {
    const full = join(root, path);
    const executable = (statSync(full).mode & 0o111) !== 0;
    hash.update(path).update("\0").update(executable ? "x" : "-").update("\0").update(readFileSync(full)).update("\0");
  }
  return hash.digest("hex");
}
