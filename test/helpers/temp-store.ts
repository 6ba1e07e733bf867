/**
 * A real LevelDB store in a fresh temporary directory, for unit tests of what sits on a store: open one before each
 * test, and close and remove it after.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Store } from "../../node/storage/index.js";

export interface TempStore {
  dir: string;
  store: Store;
}

/** Opens a store in a new directory named from `prefix` under the system's temporary directory. */
export async function openTempStore(prefix: string, options?: ConstructorParameters<typeof Store>[1]): Promise<TempStore> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const store = new Store(dir, options);
  await store.open();
  return { dir, store };
}

/** Closes the store and removes its directory. */
export async function removeTempStore({ dir, store }: TempStore): Promise<void> {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}
