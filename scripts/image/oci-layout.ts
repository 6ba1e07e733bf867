/**
 * OCI image layouts written by hand, for images that are a few files on top of nothing (the pause container, CoreDNS,
 * metrics-server) or one root filesystem (the Node.js base image): a directory with `oci-layout`, `index.json` and
 * content-addressed blobs, packed into one tar file. Every archive also carries Docker's `manifest.json`, so the same
 * file loads with `docker load`, `podman load`, `ctr images import` and `buildah pull oci-archive:`.
 *
 * The JSON documents are built by pure functions (tested in test/unit/image/); only `writeLayout` touches the disk.
 */
import { createHash } from "node:crypto";
import { createReadStream, mkdirSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const MEDIA_TYPES = {
  index: "application/vnd.oci.image.index.v1+json",
  manifest: "application/vnd.oci.image.manifest.v1+json",
  config: "application/vnd.oci.image.config.v1+json",
  layer: "application/vnd.oci.image.layer.v1.tar",
  layerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
} as const;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

/** What a container started from the image runs, and as whom. */
export interface ImageRuntimeConfig {
  Entrypoint?: string[];
  Cmd?: string[];
  Env?: string[];
  User?: string;
  WorkingDir?: string;
  ExposedPorts?: Record<string, Record<string, never>>;
  Labels?: Record<string, string>;
}

/** One uncompressed layer tar on disk; `diffId` is its sha256, which is also its digest since it is not compressed. */
export interface LayerFile {
  path: string;
  diffId: string;
  size: number;
}

/** `docker.io/library/node:24-bookworm-slim` → `24-bookworm-slim`; the tag is what OCI's ref.name annotation holds. */
export function tagOf(reference: string): string {
  const lastSlash = reference.lastIndexOf("/");
  const colon = reference.lastIndexOf(":");
  if (colon <= lastSlash) throw new Error(`image reference ${reference} has no tag`);
  return reference.slice(colon + 1);
}

/** `ringkv/dynamo:1` → `docker.io/ringkv/dynamo:1`, `node:24` → `docker.io/library/node:24`, as Docker normalizes. */
export function fullReference(reference: string): string {
  const firstSlash = reference.indexOf("/");
  const first = firstSlash < 0 ? "" : reference.slice(0, firstSlash);
  const hasRegistry = first.includes(".") || first.includes(":") || first === "localhost";
  if (hasRegistry) return reference;
  return firstSlash < 0 ? `docker.io/library/${reference}` : `docker.io/${reference}`;
}

export function imageConfig(runtime: ImageRuntimeConfig, layers: LayerFile[], created = "1970-01-01T00:00:00Z"): Record<string, unknown> {
  return {
    created,
    architecture: "amd64",
    os: "linux",
    config: runtime,
    rootfs: { type: "layers", diff_ids: layers.map((l) => l.diffId) },
    history: layers.map(() => ({ created, created_by: "dynamo image builder (scripts/image)" })),
  };
}

export function imageManifest(config: Descriptor, layers: Descriptor[]): Record<string, unknown> {
  return { schemaVersion: 2, mediaType: MEDIA_TYPES.manifest, config, layers };
}

/**
 * index.json naming the image twice: `org.opencontainers.image.ref.name` (the tag, as the OCI spec has it) and
 * `io.containerd.image.name` (the full name, which `ctr images import` and docker use).
 */
export function imageIndex(manifest: Descriptor, reference: string): Record<string, unknown> {
  return {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.index,
    manifests: [
      {
        ...manifest,
        annotations: { "io.containerd.image.name": fullReference(reference), "org.opencontainers.image.ref.name": tagOf(reference) },
      },
    ],
  };
}

/** Docker's archive manifest: the config and layers by path inside the archive, and the names to tag. */
export function dockerArchiveManifest(config: Descriptor, layers: Descriptor[], reference: string): Record<string, unknown>[] {
  const path = (d: Descriptor) => `blobs/${d.digest.replace(":", "/")}`;
  const name = fullReference(reference).replace(/^docker\.io\/(library\/)?/, "");
  return [{ Config: path(config), RepoTags: [name], Layers: layers.map(path) }];
}

export function sha256Bytes(data: Buffer | string): string {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return `sha256:${hash.digest("hex")}`;
}

export async function layerFile(path: string): Promise<LayerFile> {
  return { path, diffId: await sha256File(path), size: statSync(path).size };
}

/**
 * Writes an OCI image layout into `dir` (which must not exist yet): the layer tars are moved in as blobs, the config,
 * manifest and index are written next to them, and Docker's manifest.json beside index.json.
 */
export function writeLayout(dir: string, reference: string, runtime: ImageRuntimeConfig, layers: LayerFile[]): void {
  const blobs = join(dir, "blobs", "sha256");
  mkdirSync(blobs, { recursive: true });
  const blob = (digest: string) => join(blobs, digest.slice("sha256:".length));
  const layerDescriptors = layers.map((layer): Descriptor => {
    renameSync(layer.path, blob(layer.diffId));
    return { mediaType: MEDIA_TYPES.layer, digest: layer.diffId, size: layer.size };
  });
  const writeJson = (mediaType: string, value: unknown): Descriptor => {
    const bytes = Buffer.from(JSON.stringify(value));
    const digest = sha256Bytes(bytes);
    writeFileSync(blob(digest), bytes);
    return { mediaType, digest, size: bytes.length };
  };
  const config = writeJson(MEDIA_TYPES.config, imageConfig(runtime, layers));
  const manifest = writeJson(MEDIA_TYPES.manifest, imageManifest(config, layerDescriptors));
  writeFileSync(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  writeFileSync(join(dir, "index.json"), JSON.stringify(imageIndex(manifest, reference)));
  writeFileSync(join(dir, "manifest.json"), JSON.stringify(dockerArchiveManifest(config, layerDescriptors, reference)));
}
