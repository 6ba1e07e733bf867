// Runs the project's test suites one after another (unit and integration, then Kubernetes when its toolchain is
// available) and ends with one summary line, "N passed, N failed", counted from mocha's own report of each suite.
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

const root = new URL("..", import.meta.url).pathname;
const suites = [{ name: "unit and integration", args: ["--config", ".mocharc.json", "test/unit/**/*.test.ts", "test/integration/**/*.test.ts"] }];
if (existsSync(new URL("../test/k8s/.mocharc.json", import.meta.url)) && process.env.DYNAMO_SKIP_K8S !== "1") {
  // The Kubernetes binaries are built once per machine and cached; with the cache in place this returns at once.
  suites.push({ name: "kubernetes", prepare: ["bash", ["test/k8s/toolchain/build.sh"]], args: ["--config", "test/k8s/.mocharc.json"] });
}

function runSuite(suite) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [new URL("../node_modules/mocha/bin/mocha.js", import.meta.url).pathname, ...suite.args, ...process.argv.slice(2)], {
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
      const count = (word) => Number(output.match(new RegExp(`(\\d+) ${word}`))?.[1] ?? 0);
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
