/**
 * Where the test layer's binaries are: test/k8s/toolchain/build.sh builds them from the Go module proxy into a cache
 * outside the repository, and is the one place their versions are pinned.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const toolchainScript = fileURLToPath(new URL("../toolchain/build.sh", import.meta.url));

function pinned(variable: string): string {
  const match = new RegExp(`^${variable}="(v[^"]+)"$`, "m").exec(readFileSync(toolchainScript, "utf8"));
  if (!match?.[1]) throw new Error(`${toolchainScript} does not pin ${variable}`);
  return match[1];
}

/** The Kubernetes release the toolchain script pins (its K8S_VERSION). */
export const PINNED_KUBERNETES_VERSION = pinned("K8S_VERSION");

/**
 * The directory holding the pinned binaries, or a clear error telling how to build them. With names, only those
 * binaries must be built (the chart's unit tests need helm, not a kubelet). DYNAMO_K8S_BIN_DIR points elsewhere
 * (binaries built another way), at the caller's risk.
 */
export function toolchainBinDir(...names: string[]): string {
  if (process.env.DYNAMO_K8S_BIN_DIR) return process.env.DYNAMO_K8S_BIN_DIR;
  try {
    return execFileSync("bash", [toolchainScript, "--print", ...names], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
  } catch (err) {
    const detail = (err as { stderr?: string }).stderr?.trim();
    throw new Error(`the Kubernetes toolchain is not built${detail ? ` (${detail})` : ""}; run \`npm run k8s:toolchain\` once (it takes a while)`);
  }
}
