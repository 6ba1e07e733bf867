/** Opens the object store a location names. */
import { FileStore } from "./file-store.js";
import type { Location } from "./location.js";
import type { ObjectStore } from "./object-store.js";
import { S3Store, type S3StoreOptions } from "./s3-store.js";

/** How to reach S3 beyond the bucket and prefix a location names. */
export type S3Access = Omit<S3StoreOptions, "bucket" | "prefix">;

export function openStore(location: Location, s3: S3Access = {}): ObjectStore {
  return location.kind === "file" ? new FileStore(location.dir) : new S3Store({ ...s3, bucket: location.bucket, prefix: location.prefix });
}
