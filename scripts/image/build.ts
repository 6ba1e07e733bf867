/**
 * `npm run image:build`: builds `ringkv/dynamo:<version>` from the Dockerfile with buildah and writes it as an OCI
 * archive, by default dist/images/ringkv-dynamo-<version>.oci.tar, which `docker load -i`, `podman load -i` and
 * `ctr images import` accept. It needs root (buildah and mmdebstrap work in private mount namespaces). With Docker or
 * Podman at hand, `docker build -t ringkv/dynamo:<version> .` builds the same image from Docker Hub's base instead.
 *
 *   npm run image:build [-- --output FILE]
 */
import { copyFileSync, mkdirSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { DYNAMO_REPOSITORY, REPO_ROOT, dynamoImage, packageVersion } from "./index.js";
import { available } from "./run.js";

const REQUIRED_PROGRAMS = ["buildah", "mmdebstrap", "unshare", "flock", "tar", "npm"];

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { output: { type: "string" }, help: { type: "boolean", short: "h" } } });
  if (values.help) {
    process.stdout.write("usage: npm run image:build [-- --output FILE]\n");
    return 0;
  }
  if (process.getuid?.() !== 0) {
    process.stderr.write("image:build: needs root (buildah and mmdebstrap run in private mount namespaces); without root, use `docker build .`\n");
    return 2;
  }
  for (const program of REQUIRED_PROGRAMS) {
    if (!(await available(program))) {
      process.stderr.write(`image:build: ${program} is not installed (on Debian: apt-get install buildah mmdebstrap)\n`);
      return 2;
    }
  }
  const output = resolve(values.output ?? join(REPO_ROOT, "dist", "images", `${DYNAMO_REPOSITORY.replace("/", "-")}-${packageVersion()}.oci.tar`));
  const image = await dynamoImage();
  mkdirSync(dirname(output), { recursive: true });
  copyFileSync(image.archive, output);
  const mib = (statSync(output).size / 1024 / 1024).toFixed(0);
  process.stdout.write(`${image.reference}: ${output} (${mib} MiB, compressed)\n`);
  process.stdout.write(`load it with: docker load -i ${output}   or: ctr -n k8s.io images import ${output}\n`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`image:build: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
