/**
 * `npm run test:k8s [-- FILES...]`: runs the Kubernetes suite (every test/k8s/**\/*.test.ts, or the files named) with
 * mocha inside a sandbox of its own (harness/sandbox, harness/suite.ts), after building what the run needs on the
 * host. mocha's exit status is this program's. DYNAMO_K8S_KEEP=1 keeps the run directory (component logs, etcd,
 * volumes) afterwards; DYNAMO_K8S_JOBS sets the number of parallel mocha workers (default 3).
 *
 * `--prepare` builds what a run needs (the images; the toolchain must be built) and exits without starting a sandbox;
 * `--prepare-image` builds the project's image alone, which needs no toolchain. CI does both in the background while
 * other suites run (scripts/build-test-tools.sh), so the run finds them cached.
 */
import { readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { launchSandbox } from "./harness/sandbox/launcher.js";
import { prepareRun } from "./harness/sandbox/prepare.js";
import { dynamoImage } from "../../scripts/image/index.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const mocha = fileURLToPath(new URL("../../node_modules/mocha/bin/mocha.js", import.meta.url));
const suite = fileURLToPath(new URL("./harness/suite.ts", import.meta.url));
const files = process.argv.slice(2);

/** Every *.test.ts under `dir`, as paths relative to the repository, sorted. */
function testFiles(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory() && entry.name !== "toolchain") found.push(...testFiles(path));
    else if (entry.name.endsWith(".test.ts")) found.push(relative(root, path));
  }
  return found.sort();
}

async function main(): Promise<number> {
  if (files.length === 1 && (files[0] === "--prepare" || files[0] === "--prepare-image")) {
    const images = files[0] === "--prepare" ? (await prepareRun()).images : { dynamo: await dynamoImage(), system: [] };
    for (const image of [images.dynamo, ...images.system]) console.log(`${image.reference}: ${image.archive}`);
    return 0;
  }
  const { binDir, images } = await prepareRun();
  process.chdir(root);
  return launchSandbox({
    command: [process.execPath, "--import", "tsx", suite, "--", mocha, ...(files.length > 0 ? files : testFiles(join(root, "test/k8s")))],
    binDir,
    images,
    keep: process.env.DYNAMO_K8S_KEEP === "1",
  });
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`test:k8s: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
