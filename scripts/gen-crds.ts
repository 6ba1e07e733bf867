/**
 * `npm run gen:crds`: writes crds/dynamoclusters.yaml from the zod schema in operator/api. With `--check` it writes
 * nothing and exits 1 when the committed file differs from a fresh generation.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { renderCrdYaml } from "../operator/api/index.js";

const target = fileURLToPath(new URL("../crds/dynamoclusters.yaml", import.meta.url));
const yaml = renderCrdYaml();
if (process.argv.includes("--check")) {
  let current = "";
  try {
    current = readFileSync(target, "utf8");
  } catch {
    current = "";
  }
  if (current !== yaml) {
    process.stderr.write(`gen-crds: ${target} is stale; run npm run gen:crds\n`);
    process.exitCode = 1;
  }
} else {
  writeFileSync(target, yaml);
  process.stdout.write(`gen-crds: wrote ${target}\n`);
}
