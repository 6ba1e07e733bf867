/**
 * The image cache: OCI archives kept outside the repository, next to the Kubernetes binaries, each named by what it
 * holds and a content key (a hash of everything that went into it), so an archive is rebuilt exactly when one of its
 * inputs changed. Builds of the same image from several processes are serialized by a file lock; the second one then
 * finds the archive made. An archive is renamed into place when complete, so an interrupted build leaves nothing that
 * looks finished. Older archives of the same image are removed beyond a few, which bounds the cache's size.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync, utimesSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

export const DEFAULT_IMAGE_CACHE = {
  /** Archives kept per image name besides the one just used: room for switching between a few branches. */
  keptPerImage: 3,
  lockTimeoutMs: 45 * 60_000,
};

export function imageCacheDir(): string {
  return join(process.env.DYNAMO_K8S_CACHE ?? join(homedir(), ".cache", "dynamo-k8s"), "images");
}

/** A short, stable key from any JSON-able description of an archive's inputs. */
export function contentKey(...parts: unknown[]): string {
  const hash = createHash("sha256");
  for (const part of parts) hash.update(typeof part === "string" ? part : JSON.stringify(part)).update("\0");
  return hash.digest("hex").slice(0, 20);
}

export function archivePath(name: string, key: string): string {
  return join(imageCacheDir(), `${name}-${key}.oci.tar`);
}

/**
 * Holds an exclusive flock(1) on `path` while `body` runs. The lock belongs to a small `flock` process whose stdin is
 * this process: when this process dies, the lock goes with it, so a killed build never leaves the cache locked.
 */
export async function withFileLock<T>(path: string, body: () => Promise<T>): Promise<T> {
  const holder = spawn("flock", ["--exclusive", "--timeout", String(DEFAULT_IMAGE_CACHE.lockTimeoutMs / 1000), path, "-c", "echo locked; exec cat >/dev/null"], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  await new Promise<void>((resolve, reject) => {
    holder.stdout.once("data", () => resolve());
    holder.once("error", reject);
    holder.once("exit", (code) => reject(new Error(`could not lock ${path} (flock exited with ${code})`)));
  });
  try {
    return await body();
  } finally {
    holder.stdin.end();
  }
}

/**
 * The archive `name` with content key `key`: returned at once when cached, otherwise made by `produce`, which writes
 * the archive to the path it is given (inside a scratch directory, also given, removed afterwards).
 */
export async function cachedArchive(name: string, key: string, produce: (output: string, scratch: string) => Promise<void>): Promise<string> {
  const dir = imageCacheDir();
  const path = archivePath(name, key);
  mkdirSync(dir, { recursive: true });
  if (!existsSync(path)) {
    await withFileLock(join(dir, `.${name}.lock`), async () => {
      if (existsSync(path)) return;
      // Scratch directories of builds that were killed; with the lock held, none of them is in use.
      for (const stale of readdirSync(dir).filter((f) => f.startsWith(`.build-${name}-`))) rmSync(join(dir, stale), { recursive: true, force: true });
      const scratch = mkdtempSync(join(dir, `.build-${name}-`));
      try {
        const output = join(scratch, "image.oci.tar");
        await produce(output, scratch);
        renameSync(output, path);
      } finally {
        rmSync(scratch, { recursive: true, force: true });
      }
    });
  }
  const now = new Date();
  utimesSync(path, now, now);
  pruneOlder(name, path);
  return path;
}

function pruneOlder(name: string, keep: string): void {
  const dir = imageCacheDir();
  const pattern = new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}-[0-9a-f]{20}\\.oci\\.tar$`);
  const others = readdirSync(dir)
    .filter((f) => pattern.test(f) && join(dir, f) !== keep)
    .map((f) => ({ path: join(dir, f), used: statSync(join(dir, f)).mtimeMs }))
    .sort((a, b) => b.used - a.used);
  for (const old of others.slice(DEFAULT_IMAGE_CACHE.keptPerImage)) rmSync(old.path, { force: true });
}
