/**
 * The project's image, `ringkv/dynamo:<package.json version>`, built from the Dockerfile for real, without Docker and
 * without a registry: buildah (chroot isolation, overlay storage, in a private mount namespace so no mount outlives it) builds the Dockerfile against the locally made base image (base-image.ts), and the result is
 * written as one OCI archive that `docker load`, `podman load` and `ctr images import` all accept.
 *
 * The RUN steps fetch npm packages. Where the network passes through a TLS-intercepting proxy, its certificate
 * authority is only in this machine's trust store, so the build mounts that store (and an npm configuration pointing
 * at it) into the RUN steps; nothing of it ends up in the image. The archive is cached by the content of the build
 * context, the Dockerfile and the base image.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { baseImageArchive } from "./base-image.js";
import { cachedArchive, contentKey, imageCacheDir } from "./cache.js";
import { contextHash } from "./context.js";
import { parseDockerfile } from "./dockerfile.js";
import { dockerArchiveManifest, fullReference, imageIndex, tagOf, type Descriptor } from "./oci-layout.js";
import { run } from "./run.js";

export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const DYNAMO_REPOSITORY = "ringkv/dynamo";

export const DEFAULT_DYNAMO_IMAGE = {
  buildahStorageBytesMax: 6 * 1024 ** 3,
};

/** The trust store mounted into RUN steps when it exists (Debian's path; other systems build without it). */
const HOST_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";

export function packageVersion(root = REPO_ROOT): string {
  return (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string }).version;
}

/** The image's name: the repository at the package's version, which is also the Helm chart's appVersion. */
export function dynamoImageReference(root = REPO_ROOT): string {
  return `${DYNAMO_REPOSITORY}:${packageVersion(root)}`;
}

/** The external images the Dockerfile's stages build FROM (stage names used as a FROM are not images). */
export function baseImagesOf(dockerfile: string): string[] {
  const { stages } = parseDockerfile(dockerfile);
  const names = new Set(stages.map((s) => s.name).filter((n): n is string => n !== undefined));
  return [...new Set(stages.map((s) => s.image).filter((image) => !names.has(image)))];
}

export interface BuiltImage {
  reference: string;
  archive: string;
}

/** The current hard limit on open files, which the RUN steps get: this host cannot raise it, so none may ask for more. */
async function openFilesLimit(): Promise<string> {
  return (await run("sh", ["-c", "ulimit -Hn"])).trim();
}

/**
 * buildah's storage for the project's builds, kept between builds so that `--layers` reuses the dependency layers
 * (npm ci) when only sources changed. It is only ever used under the image's build lock, and wiped when it grows past
 * a bound: the next build is then a cold one.
 */
function buildahStorage(): string {
  const storage = join(imageCacheDir(), "buildah");
  mkdirSync(storage, { recursive: true });
  if (directoryBytes(join(storage, "root")) > DEFAULT_DYNAMO_IMAGE.buildahStorageBytesMax) rmSync(join(storage, "root"), { recursive: true, force: true });
  return storage;
}

function directoryBytes(path: string): number {
  if (!existsSync(path)) return 0;
  const out = execFileSync("du", ["-s", "--block-size=1", path], { encoding: "utf8" });
  return Number(out.split(/\s/)[0]);
}

/** Builds the image from the Dockerfile in `root` (or finds it in the cache). */
export async function dynamoImage(root = REPO_ROOT): Promise<BuiltImage> {
  const reference = dynamoImageReference(root);
  const dockerfile = readFileSync(join(root, "Dockerfile"), "utf8");
  const dockerignore = readFileSync(join(root, ".dockerignore"), "utf8");
  const bases = baseImagesOf(dockerfile);
  if (bases.length !== 1) throw new Error(`the Dockerfile builds FROM ${bases.join(", ")}; the image builder makes exactly one base image`);
  const base = bases[0] as string;
  const baseArchive = await baseImageArchive(base);
  const key = contentKey(reference, dockerfile, dockerignore, contextHash(root, dockerignore), baseArchive);
  const archive = await cachedArchive("dynamo", key, async (output, scratch) => {
    const started = Date.now();
    process.stderr.write(`image: building ${reference} from ${join(root, "Dockerfile")} with buildah\n`);
    const npmrc = join(scratch, "npmrc");
    const mounts: string[] = [];
    if (existsSync(HOST_CA_BUNDLE)) {
      writeFileSync(npmrc, `cafile=${HOST_CA_BUNDLE}\n`);
      mounts.push("-v", `${HOST_CA_BUNDLE}:${HOST_CA_BUNDLE}:ro`, "-v", `${npmrc}:/usr/local/etc/npmrc:ro`);
    }
    const nofile = await openFilesLimit();
    const layout = join(scratch, "layout");
    const storage = buildahStorage();
    // One shell inside a private mount namespace: buildah's overlay mounts die with it, whatever happens. The build
    // lock is held, so no other build uses the storage: its run-time state (mount counts, locks) from a killed build
    // is thrown away first, as a reboot would.
    const script = `set -euo pipefail
storage="$1" base_archive="$2" base_key="$3" base="$4" reference="$5" layout="$6" tag="$7" nofile="$8" context="$9"; shift 9
rm -rf "$storage/run"
b() { buildah --root "$storage/root" --runroot "$storage/run" --storage-driver overlay "$@"; }
if ! b inspect --type image "localhost/dynamo-base:$base_key" >/dev/null 2>&1; then
  b tag "$(b pull --quiet "oci-archive:$base_archive")" "localhost/dynamo-base:$base_key"
fi
b tag "localhost/dynamo-base:$base_key" "$base"
b build --quiet --layers --pull=never --isolation chroot --ulimit "nofile=$nofile:$nofile" "$@" -t "$reference" -f "$context/Dockerfile" "$context" >/dev/null
b push --quiet "$reference" "oci:$layout:$tag"
b images --format '{{.Name}}:{{.Tag}} {{.Size}}' "$reference"`;
    const sizes = await run("unshare", [
      "--mount", "--propagation", "private", "--", "bash", "-c", script, "bash",
      storage, baseArchive, contentKey(baseArchive), fullReference(base), fullReference(reference), layout, tagOf(reference), nofile, root, ...mounts,
    ]);
    nameLayout(layout, reference);
    await run("tar", ["--numeric-owner", "--owner=0", "--group=0", "--sort=name", "-C", layout, "-cf", output, "."]);
    process.stderr.write(`image: built ${sizes.trim()} in ${Math.round((Date.now() - started) / 1000)} s\n`);
  });
  return { reference, archive };
}

/** Gives an OCI layout written by `buildah push` the names every loader understands (see oci-layout.ts). */
function nameLayout(layout: string, reference: string): void {
  const index = JSON.parse(readFileSync(join(layout, "index.json"), "utf8")) as { manifests: Descriptor[] };
  if (index.manifests.length !== 1) throw new Error(`buildah wrote ${index.manifests.length} manifests; expected one`);
  const { annotations: _annotations, ...manifestDescriptor } = index.manifests[0] as Descriptor;
  const blob = (d: Descriptor) => join(layout, "blobs", ...d.digest.split(":"));
  const manifest = JSON.parse(readFileSync(blob(manifestDescriptor), "utf8")) as { config: Descriptor; layers: Descriptor[] };
  writeFileSync(join(layout, "index.json"), JSON.stringify(imageIndex(manifestDescriptor, reference)));
  writeFileSync(join(layout, "manifest.json"), JSON.stringify(dockerArchiveManifest(manifest.config, manifest.layers, reference)));
}
