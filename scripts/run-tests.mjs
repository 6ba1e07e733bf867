// Runs the project's test suites one after another (unit and integration, then Kubernetes, which runs mocha inside a
// sandbox of its own on a real node) and ends with one summary line, "N passed, N failed", counted from mocha's own
// report of each suite.
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

const root = new URL("..", import.meta.url).pathname;
const mocha = new URL("../node_modules/mocha/bin/mocha.js", import.meta.url).pathname;
const suites = [
  { name: "unit and integration", args: [mocha, "--config", ".mocharc.json", "test/unit/**/*.test.ts", "test/integration/**/*.test.ts", ...process.argv.slice(2)] },
];
if (existsSync(new URL("../test/k8s/run.ts", import.meta.url)) && process.env.DYNAMO_SKIP_K8S !== "1") {
  // The Kubernetes binaries and images are built once and cached; with the caches in place these return at once.
  suites.push({ name: "kubernetes", prepare: ["bash", ["test/k8s/toolchain/build.sh"]], args: ["--import", "tsx", "test/k8s/run.ts"] });
}

function runSuite(suite) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, suite.args, {
      cwd: root,
      stdio: ["ignore", "pipe", "inherit"],
    });
    let output = "";
    child.stdout.on("data", (chunk) => {
      process.stdout.write(chunk);
      output += chunk.toString();
      if (output.length > 1_000_000) output = output.slice(-100_000);
    });
    child.on("exit", (code) => {
      // A suite may run mocha more than once (the Kubernetes suite does); every report counts.
      const count = (word) => [...output.matchAll(new RegExp(`^\\s*(\\d+) ${word}`, "gm"))].reduce((sum, m) => sum + Number(m[1]), 0);
      const passed = count("passing");
      let failed = count("failing");
      // A suite that crashed before reporting counts as one failure, so it can never pass silently.
      if (code !== 0 && failed === 0) failed = 1;
      resolve({ passed, failed, pending: count("pending") });
    });
  });
}

let passed = 0;
let failed = 0;
let skipped = 0;
for (const suite of suites) {
  console.log(`\n=== ${suite.name} tests ===`);
  if (suite.prepare) {
    const [cmd, args] = suite.prepare;
    const prepared = spawnSync(cmd, args, { cwd: root, stdio: "inherit" });
    if (prepared.status !== 0) {
      console.log(`${suite.name}: '${cmd} ${args.join(" ")}' failed; the suite counts as one failure`);
      failed += 1;
      continue;
    }
  }
  const result = await runSuite(suite);
  passed += result.passed;
  failed += result.failed;
  skipped += result.pending;
}
console.log(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
process.exit(failed > 0 ? 1 : 0);
