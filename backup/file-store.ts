/**
 * A location on a file system (`file:///abs/dir`): each object a file under the directory. A write goes to a
 * temporary file beside its target, is flushed to disk, and is renamed into place, so a reader sees the whole object
 * or none of it (the manifest relies on this), and a crash in the middle leaves only a temporary file, which listings
 * ignore.
 */
import { randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, open, readdir, rename, rm, rmdir, stat } from "node:fs/promises";
import { dirname, join, relative, sep } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { BackupError } from "./errors.js";
import type { ObjectStore, StoredObject } from "./object-store.js";

const TEMP_MARK = ".tmp-";

export class FileStore implements ObjectStore {
  constructor(readonly dir: string) {}

  get description(): string {
    return `file://${this.dir}`;
  }

  async put(key: string, body: Buffer | Readable, _contentType: string): Promise<number> {
    const path = this.path(key);
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    const temp = `${path}${TEMP_MARK}${randomBytes(4).toString("hex")}`;
    try {
      await pipeline(Buffer.isBuffer(body) ? Readable.from([body]) : body, createWriteStream(temp, { mode: 0o600 }));
      const handle = await open(temp, "r");
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, path);
      await syncDirectory(dirname(path));
      return (await stat(path)).size;
    } catch (err) {
      await rm(temp, { force: true });
      throw storeError(`writing ${key}`, err);
    }
  }

  async get(key: string): Promise<Readable> {
    const path = this.path(key);
    try {
      await stat(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") throw new BackupError("missing_object", `${this.description}/${key} does not exist`, { object: key });
      throw storeError(`reading ${key}`, err);
    }
    return createReadStream(path);
  }

  async head(key: string): Promise<number | undefined> {
    try {
      return (await stat(this.path(key))).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw storeError(`reading ${key}`, err);
    }
  }

  async list(prefix: string): Promise<StoredObject[]> {
    const out: StoredObject[] = [];
    const walk = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
        throw storeError(`listing ${dir}`, err);
      }
      for (const entry of entries) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) await walk(path);
        else if (entry.isFile() && !entry.name.includes(TEMP_MARK)) {
          const key = relative(this.dir, path).split(sep).join("/");
          if (key.startsWith(prefix)) out.push({ key, bytes: (await stat(path)).size });
        }
      }
    };
    const base = prefix.includes("/") ? this.path(prefix.slice(0, prefix.lastIndexOf("/"))) : this.dir;
    await walk(base);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async children(prefix: string): Promise<string[]> {
    try {
      const entries = await readdir(prefix ? this.path(prefix) : this.dir, { withFileTypes: true });
      return entries.filter((e) => e.isDirectory()).map((e) => e.name).sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw storeError(`listing ${prefix || this.dir}`, err);
    }
  }

  async delete(keys: string[]): Promise<void> {
    const dirs = new Set<string>();
    for (const key of keys) {
      await rm(this.path(key), { force: true });
      dirs.add(dirname(this.path(key)));
    }
    // Directories left empty go too, so a deleted backup leaves nothing behind.
    for (const dir of [...dirs].sort((a, b) => b.length - a.length)) await removeEmptyUpTo(dir, this.dir);
  }

  close(): void {}

  private path(key: string): string {
    if (key.split("/").some((part) => part === ".." || part === ".")) throw new BackupError("invalid_location", `object key '${key}' may not hold '.' or '..'`);
    return join(this.dir, ...key.split("/"));
  }
}

async function removeEmptyUpTo(dir: string, root: string): Promise<void> {
  for (let current = dir; current.startsWith(root) && current !== root; current = dirname(current)) {
    try {
      if ((await readdir(current)).length > 0) return;
      await rmdir(current);
    } catch {
      return;
    }
  }
}

/** A rename is durable only once the directory that holds it is flushed too. */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } catch {
    // Some file systems refuse to sync a directory; the rename is then as durable as they make it.
  } finally {
    await handle.close();
  }
}

function storeError(what: string, err: unknown): BackupError {
  if (err instanceof BackupError) return err;
  return new BackupError("store_failed", `${what} failed: ${(err as Error).message}`, { cause: err });
}
