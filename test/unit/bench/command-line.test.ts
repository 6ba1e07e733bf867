import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

/**
 * The benchmark scripts that parse their own flags, run as a user runs them: `--help` prints the usage, and a flag
 * they do not know or a bad value gets one line naming it and exit code 2 before anything starts, not a stack trace.
 */
const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

function run(script: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, ["--import", "tsx", `bench/${script}.ts`, ...args], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe("benchmark scripts' command lines", function () {
  this.timeout(120_000);

  for (const script of ["rebalance", "backup", "link"]) {
    it(`bench:${script} prints its usage for --help and refuses an unknown flag with exit code 2`, () => {
      const help = run(script, ["--help"]);
      assert.equal(help.status, 0, help.stderr);
      assert.match(help.stdout, new RegExp(`^usage: npm run bench:${script} -- \\[flags\\]`));

      const unknown = run(script, ["--no-such-flag"]);
      assert.equal(unknown.status, 2, unknown.stderr);
      assert.match(unknown.stderr, new RegExp(`^bench:${script}: Unknown option '--no-such-flag'`));
      assert.match(unknown.stderr, /usage: /);
      assert.doesNotMatch(unknown.stderr, /\n\s+at /, "a stack trace instead of a message");
    });
  }

  it("names a bad numeric value", () => {
    const bad = run("rebalance", ["--keys", "many"]);
    assert.equal(bad.status, 2, bad.stderr);
    assert.match(bad.stderr, /^bench:rebalance: --keys must be an integer of at least 1, got 'many'/);
    const noCycles = run("rebalance", ["--cycles", "0"]);
    assert.equal(noCycles.status, 2, noCycles.stderr);
    assert.match(noCycles.stderr, /^bench:rebalance: --cycles must be an integer of at least 1, got '0'/);
  });

  it("refuses a --runtime that is not a Node.js binary before starting anything", () => {
    for (const [script, name] of [["ycsb", "bench"], ["profile", "bench:profile"], ["peers", "bench:peers"]]) {
      const bad = run(script!, ["--runtime", "/nonexistent/node"]);
      assert.equal(bad.status, 2, `${name}: ${bad.stderr}`);
      assert.match(bad.stderr, new RegExp(`^${name}: --runtime: /nonexistent/node is not an executable file`));
      assert.doesNotMatch(bad.stderr, /\n\s+at /, "a stack trace instead of a message");
    }
  });
});
