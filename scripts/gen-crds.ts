/**
 * `npm run gen:crds`: writes crds/<plural>.yaml for every resource (DynamoCluster, DynamoBackup,
 * DynamoScheduledBackup) from the zod schemas in operator/api. With `--check` it writes nothing and exits 1 when a
 * committed file differs from a fresh generation.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { CRDS, renderCrdYaml } from "../operator/api/index.js";

for (const definition of CRDS) {
  const target = fileURLToPath(new URL(`../crds/${definition.file}.yaml`, import.meta.url));
  const yaml = renderCrdYaml(definition);
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
}
