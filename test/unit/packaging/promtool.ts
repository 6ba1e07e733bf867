/**
 * The promtool binary built by scripts/build-promtool.sh, for the chart's alert tests. When it is not built every call
 * throws an error naming the command that builds it, so the tests fail loudly instead of passing without having run.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const SCRIPT = fileURLToPath(new URL("../../../scripts/build-promtool.sh", import.meta.url));

let path: string | undefined;

export function promtoolBinary(): string {
  if (path) return path;
  const found = spawnSync("bash", [SCRIPT, "--print"], { encoding: "utf8" });
  if (found.status !== 0) {
    throw new Error(`promtool is not built, so the alerts cannot be checked: run \`npm run promtool:build\` once (${found.stderr.trim()})`);
  }
  path = found.stdout.trim();
  return path;
}

export function promtool(args: string[], cwd?: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(promtoolBinary(), args, { encoding: "utf8", cwd, timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
