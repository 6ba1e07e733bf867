// Runs the project's test suites (unit and integration; Kubernetes, which runs mocha inside a sandbox of its own on a
// real node) and ends with one summary line, "N passed, N failed", counted from mocha's own report of each suite.
//
// The node suite runs as two mocha processes side by side: the integration files whose tests depend on time (failure
// detection windows, requests that must not fail while nodes roll, freeze or lose a zone, kernel-made faults) one
// after the other in the first, tagged [node], and the unit tests and the integration files in SIDE_FILES below in
// the second, at a lower CPU priority, tagged [node-side] (docs/testing.md). DYNAMO_TEST_SIDE=0 runs the whole node
// suite in one mocha process, one file after the other, to tell a failure caused by the side process's load from one
// that is not.
//
// The Kubernetes suite starts when the node suite's timing-sensitive process ends (the other may still be finishing, at
// its lower priority). DYNAMO_TEST_PARALLEL=1 starts it with the node suite instead: a warm CI run took 26 minutes
// that way on two cores (the Kubernetes suite 10 of them), but the load it adds made three timing-sensitive
// integration tests fail that pass on their own (a rolling restart of 5 nodes, a Jepsen run, `dynamo dev scale`).
// Each line a suite prints carries its tag either way.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

const root = new URL("..", import.meta.url).pathname;
const mocha = new URL("../node_modules/mocha/bin/mocha.js", import.meta.url).pathname;
const serial = process.env.DYNAMO_TEST_PARALLEL !== "1";
const sideBySide = process.env.DYNAMO_TEST_SIDE !== "0";
const nodeSuite = ["test/unit/**/*.test.ts", "test/integration/**/*.test.ts"];

/**
 * The integration files that run beside the timing-sensitive ones: each proves what it proves by the data a cluster
 * holds and the answers it gives, not by how soon something happens, and none freezes, partitions or rolls nodes while
 * asserting that no request fails. A new integration file runs in the serial process until it is added here.
 * anti-entropy stays serial: its repair must finish within a deadline, which a starved side process missed twice at
 * load average 20-40.
 *
 * They run in this order, the ones that start the most processes and hold the most data first, and the unit tests
 * after all of them: the Kubernetes suite starts when the timing-sensitive process ends, and a warm CI run in which the
 * ring-change files ran beside it starved their nodes past the peer timeout and the test's own (docs/testing.md).
 */
const SIDE_FILES = [
  "ring-changes",
  "console",
  "fuzz",
  "durability",
  "client-routing",
  "ring-driver",
  "killed-replica",
  "read-repair",
  "backup",
  "backup-s3",
  "dev-squatter",
  "peer-tls",
  "admin-ring",
  "bad-input",
  "client",
  "client-auth",
  "client-port-limits",
  "client-tls",
  "hardening",
  "kv-api",
  "limits",
  "peer-protocol",
  "pipelining",
  "record-bound",
  "ring-fencing",
].map((name) => `test/integration/${name}.test.ts`);
const mochaArgs = (...specs) => [mocha, "--config", ".mocharc.json", ...specs, ...process.argv.slice(2)];

/** Test files (relative to the repository) under `dir`, in a stable order. */
function testFiles(dir) {
  const found = [];
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...testFiles(path));
    else if (entry.name.endsWith(".test.ts")) found.push(path);
  }
  return found.sort((a, b) => a.localeCompare(b, "en"));
}

/** Test files under `dir` that import one of the modules `pattern` matches. */
const filesImporting = (dir, pattern) => testFiles(dir).filter((path) => pattern.test(readFileSync(join(root, path), "utf8")));

// Under .ci/run, the test tools build in the background while the suites run (DYNAMO_TOOLS_BUILDER_PID): the
// Kubernetes toolchain first (helm is part of it), then promtool and versitygw. Unless all of them are built already
// (a warm machine), the node suite's files that run helm, promtool or versitygw go last, after the Kubernetes suite,
// in a mocha run of their own; each suite first waits for the tools it needs. (A cold run found the chart's tests
// failing with "helm is not built" when they ran in the node suite.)
const PROMTOOL = { name: "promtool", script: "scripts/build-promtool.sh" };
const VERSITYGW = { name: "versitygw", script: "scripts/build-versitygw.sh" };
const TOOLCHAIN = { name: "the Kubernetes toolchain", script: "test/k8s/toolchain/build.sh" };
const toolsPending = Boolean(process.env.DYNAMO_TOOLS_BUILDER_PID) && serial && !built([TOOLCHAIN, PROMTOOL, VERSITYGW]);
const toolFiles = toolsPending ? ["test/unit", "test/integration"].flatMap((dir) => filesImporting(dir, /from "[^"]*\/(helm|promtool|local-s3)\.js"/)) : [];
const notTools = toolFiles.flatMap((f) => ["--ignore", f]);
const integrationFiles = testFiles("test/integration");
for (const f of SIDE_FILES) if (!integrationFiles.includes(f)) throw new Error(`run-tests: SIDE_FILES names ${f}, which does not exist`);
const nodeSuites = sideBySide
  ? [
      { name: "integration (timing-sensitive, one file at a time)", tag: "node", args: mochaArgs(...integrationFiles.filter((f) => !SIDE_FILES.includes(f) && !toolFiles.includes(f))) },
      // At a lower CPU priority, so that on busy cores the timing-sensitive tests come first and these take what is left.
      { name: "unit and integration (beside them)", tag: "node-side", nice: 10, args: mochaArgs(...SIDE_FILES.filter((f) => !toolFiles.includes(f)), "test/unit/**/*.test.ts", ...notTools) },
    ]
  : [{ name: "unit and integration", tag: "node", args: mochaArgs(...nodeSuite, ...notTools) }];
/**
 * Each suite starts once the suites it names in `after` have ended. The Kubernetes suite waits for the node suite's
 * timing-sensitive process only: once that has ended, the one still running beside it is at a lower CPU priority and
 * proves nothing by timing, so the Kubernetes suite need not wait for it too (a warm CI run saved about a minute).
 * DYNAMO_TEST_PARALLEL=1 starts every suite at once.
 */
const suites = [...nodeSuites];
const [timingSensitive] = nodeSuites;
if (existsSync(new URL("../test/k8s/run.ts", import.meta.url)) && process.env.DYNAMO_SKIP_K8S !== "1") {
  // The Kubernetes binaries and images are built once and cached; with the caches in place these return at once.
  suites.push({ name: "kubernetes", tag: "k8s", after: [timingSensitive], awaitTools: [TOOLCHAIN], prepare: ["bash", ["test/k8s/toolchain/build.sh"]], args: ["--import", "tsx", "test/k8s/run.ts"] });
}
if (toolFiles.length > 0) suites.push({ name: "unit and integration needing helm, promtool or versitygw", tag: "node", after: [...suites], awaitTools: [TOOLCHAIN, PROMTOOL, VERSITYGW], args: mochaArgs(...toolFiles) });

/** Prints a child's output line by line under the suite's tag, and keeps the last megabyte for the counts. */
function relay(stream, tag, sink, keep) {
  let partial = "";
  stream.on("data", (chunk) => {
    const text = partial + chunk.toString();
    const lines = text.split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) sink.write(`[${tag}] ${line}\n`);
    keep?.(text.slice(0, text.length - partial.length));
  });
  stream.on("end", () => {
    if (partial) sink.write(`[${tag}] ${partial}\n`);
    keep?.(partial);
  });
}

function run(cmd, args, tag, keep) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    relay(child.stdout, tag, process.stdout, keep);
    relay(child.stderr, tag, process.stderr);
    child.on("error", (err) => {
      process.stderr.write(`[${tag}] ${cmd}: ${err.message}\n`);
      resolve(1);
    });
    child.on("close", (code) => resolve(code ?? 1));
  });
}

/** Whether process `pid` runs (a zombie has ended: only its parent has not collected it yet). */
function running(pid) {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

/** Whether every one of `tools` is built (its build script's `--print` finds it). */
function built(tools) {
  return tools.every((tool) => spawnSync("bash", [tool.script, "--print"], { cwd: root, stdio: "ignore" }).status === 0);
}

/**
 * Waits until the tools a suite needs (suite.awaitTools) are built or the background build that makes them
 * (DYNAMO_TOOLS_BUILDER_PID, from .ci/run) ended, DYNAMO_TOOLS_WAIT_SECONDS at most (an hour). Whatever the build left
 * undone then fails the suite's tests with their own messages, or the suite's preparation builds it.
 */
async function awaitToolsBuild(suite) {
  const pid = Number(process.env.DYNAMO_TOOLS_BUILDER_PID);
  const ready = () => !running(pid) || built(suite.awaitTools);
  if (!pid || ready()) return true;
  const limitMs = Number(process.env.DYNAMO_TOOLS_WAIT_SECONDS ?? 3600) * 1000;
  const started = Date.now();
  const log = process.env.DYNAMO_TOOLS_BUILD_LOG ?? "(no log named)";
  const what = suite.awaitTools.map((tool) => tool.name).join(" and ");
  console.log(`=== ${suite.name}: waiting for the background build of ${what} (pid ${pid}, log ${log}) ===`);
  let report = started + 60_000;
  while (!ready()) {
    if (Date.now() - started > limitMs) {
      console.log(`=== ${suite.name}: the background build of ${what} did not end within ${limitMs / 1000} s (log ${log}); the suite counts as one failure`);
      return false;
    }
    if (Date.now() >= report) {
      console.log(`=== ${suite.name}: still waiting for the background build of ${what} (${Math.round((Date.now() - started) / 1000)} s so far)`);
      report += 60_000;
    }
    await sleep(2000);
  }
  console.log(`=== ${suite.name}: waited ${Math.round((Date.now() - started) / 1000)} s for the background build of ${what} ===`);
  return true;
}

async function runSuite(suite) {
  const started = Date.now();
  console.log(`=== ${suite.name} tests: starting ===`);
  if (suite.awaitTools && !(await awaitToolsBuild(suite))) return { passed: 0, failed: 1, pending: 0, failures: [] };
  if (suite.prepare) {
    const [cmd, args] = suite.prepare;
    const code = await run(cmd, args, suite.tag);
    if (code !== 0) {
      console.log(`=== ${suite.name}: '${cmd} ${args.join(" ")}' failed; the suite counts as one failure`);
      return { passed: 0, failed: 1, pending: 0, failures: [] };
    }
  }
  let output = "";
  const [cmd, args] = suite.nice ? ["nice", ["-n", String(suite.nice), process.execPath, ...suite.args]] : [process.execPath, suite.args];
  const code = await run(cmd, args, suite.tag, (text) => {
    output += text;
    if (output.length > 1_000_000) output = output.slice(-100_000);
  });
  // A suite may run mocha more than once (the Kubernetes suite does); every report counts.
  const count = (word) => [...output.matchAll(new RegExp(`^\\s*(\\d+) ${word}`, "gm"))].reduce((sum, m) => sum + Number(m[1]), 0);
  const passed = count("passing");
  let failed = count("failing");
  // A suite that crashed before reporting counts as one failure, so it can never pass silently.
  if (code !== 0 && failed === 0) failed = 1;
  const pending = count("pending");
  console.log(`=== ${suite.name} tests: ${passed} passed, ${failed} failed in ${Math.round((Date.now() - started) / 1000)} s ===`);
  const failures = failureReports(output);
  // A suite that failed without mocha's report of a failed test (a crash, a hook that threw) is named by its last lines.
  if (code !== 0 && count("failing") === 0) failures.push(`${suite.name} exited with code ${code} without mocha's report of a failed test; its last lines:`, ...output.split("\n").filter((line) => line.trim() !== "").slice(-15));
  return { passed, failed, pending, failures: failures.map((line) => `[${suite.tag}] ${line}`) };
}

/**
 * Mocha's account of each failed test (its title, the error and the first frames of its stack), taken from a suite's
 * output so the run can repeat it just before its summary: a CI log is often read from its end, and the failure itself
 * may lie thousands of lines above it. Frames beyond the third of each failure are left out, and a suite's account is
 * held to MAX_FAILURE_LINES lines.
 */
const MAX_FAILURE_LINES = 60;
function failureReports(output) {
  const lines = [];
  // Mocha writes its failures after the "N failing" line of its report. The Kubernetes suite runs mocha once per file,
  // so a report also ends where the next file's output starts: its header, a passed test or the next report.
  for (const [, report] of output.matchAll(/^\s*\d+ failing\n([\s\S]*?)(?=^\s*\d+ passing|^.*✔|^\[k8s file\]|(?![\s\S]))/gm)) {
    let frames = 0;
    for (const line of report.trimEnd().split("\n")) {
      if (/^\s*\d+\) /.test(line)) frames = 0;
      if (/^\s+at /.test(line) && ++frames > 3) continue;
      if (line.trim() !== "" || (lines.length > 0 && lines.at(-1).trim() !== "")) lines.push(line);
    }
  }
  if (lines.length > MAX_FAILURE_LINES) lines.splice(MAX_FAILURE_LINES, Infinity, `(${lines.length - MAX_FAILURE_LINES} more lines left out: the whole report is above)`);
  return lines;
}

/** Each suite's result, once it has run; every suite starts when those it comes after have ended. */
const ended = new Map();
for (const suite of suites) {
  const waitFor = serial ? (suite.after ?? []).map((other) => ended.get(other)) : [];
  ended.set(suite, Promise.all(waitFor).then(() => runSuite(suite)));
}
const results = await Promise.all(suites.map((suite) => ended.get(suite)));
const total = (key) => results.reduce((sum, r) => sum + r[key], 0);
const skipped = total("pending");
const failures = results.flatMap((r) => r.failures);
if (failures.length > 0) {
  // .ci/run repeats this block after its own last lines; it finds it by these two markers.
  console.log("\n=== failures (each in full above) ===");
  for (const line of failures) console.log(line);
  console.log("=== end of failures ===");
}
console.log(`\n${total("passed")} passed, ${total("failed")} failed${skipped ? `, ${skipped} skipped` : ""}`);
process.exit(total("failed") > 0 ? 1 : 0);
