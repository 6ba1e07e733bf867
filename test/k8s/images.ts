// There is no container runtime on this machine, so the process kubelet knows a short, fixed list of
// "images" and what each stands for on the host. `ringkv/dynamo` is the project's own build (its
// entrypoint `dynamo` runs `node dist/cli/main.js`), so pods run exactly the code under test; `node`
// is the Node.js running the harness, for small test programs passed with `-e`. Any other image is
// refused with ErrImagePull and a message naming the known images, as a real kubelet would report a
// missing image, instead of being ignored.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const DYNAMO_MAIN = fileURLToPath(new URL("../../dist/cli/main.js", import.meta.url));

export interface ContainerSpecLike {
  image?: string;
  command?: string[];
  args?: string[];
}

export type ImageResolution =
  | { ok: true; executable: string; argv: string[] }
  | { ok: false; reason: "ErrImagePull" | "RunContainerError"; message: string };

interface KnownImage {
  entrypoint: string[];
  /** Maps the first word of the final command line to a host executable and leading arguments. */
  programs: Record<string, () => string[] | string>;
}

const KNOWN_IMAGES: Record<string, KnownImage> = {
  "ringkv/dynamo": {
    entrypoint: ["dynamo"],
    programs: {
      dynamo: () =>
        existsSync(DYNAMO_MAIN)
          ? [process.execPath, DYNAMO_MAIN]
          : `image ringkv/dynamo stands for this repository's build, but ${DYNAMO_MAIN} does not exist; run npm run build`,
      node: () => [process.execPath],
    },
  },
  node: { entrypoint: ["node"], programs: { node: () => [process.execPath] } },
};

/** `docker.io/library/node:20-alpine` → `node`; `ringkv/dynamo@sha256:…` → `ringkv/dynamo`. */
export function imageName(image: string): string {
  let name = image.split("@")[0] ?? image;
  const lastSlash = name.lastIndexOf("/");
  const colon = name.lastIndexOf(":");
  if (colon > lastSlash) name = name.slice(0, colon);
  for (const prefix of ["docker.io/", "index.docker.io/", "library/"]) {
    if (name.startsWith(prefix)) name = name.slice(prefix.length);
  }
  return name;
}

/** Resolves a container's image, command and args to a host command line, as a runtime would. */
export function resolveImage(container: ContainerSpecLike): ImageResolution {
  const image = container.image ?? "";
  const known = KNOWN_IMAGES[imageName(image)];
  if (!known) {
    return {
      ok: false,
      reason: "ErrImagePull",
      message: `image "${image}" is not available to the process kubelet; known images: ${Object.keys(KNOWN_IMAGES).join(", ")}`,
    };
  }
  // Kubernetes semantics: `command` replaces the entrypoint and drops the image's default args.
  const words = [...(container.command ?? known.entrypoint), ...(container.args ?? [])];
  const program = words[0] ?? "";
  const base = program.split("/").pop() ?? program;
  const mapping = known.programs[base];
  if (!mapping) {
    return { ok: false, reason: "RunContainerError", message: `"${program}" is not an executable in image ${image}` };
  }
  const resolved = mapping();
  if (typeof resolved === "string") return { ok: false, reason: "ErrImagePull", message: resolved };
  const [executable, ...lead] = resolved;
  return { ok: true, executable: executable ?? process.execPath, argv: [...lead, ...words.slice(1)] };
}
