import assert from "node:assert/strict";
import { parsePluginCommandLine } from "../../../kubectl/index.js";
import { UsageError } from "../../../lib/command-line.js";

describe("kubectl dynamo: the command line", function () {
  it("takes its flags anywhere on the line, as kubectl's own, with their defaults", function () {
    const parsed = parsePluginCommandLine(["-n", "apps", "rebalance", "kv", "--watch", "--node-access", "direct", "--interval-ms", "250"]);
    assert.ok(!parsed.help);
    assert.equal(parsed.command, "rebalance");
    assert.equal(parsed.target, "kv");
    assert.deepEqual(parsed.flags, { namespace: "apps", watch: true, nodeAccess: "direct", intervalMs: 250 });
    const plain = parsePluginCommandLine(["status", "kv", "-o", "json", "--context", "c", "--kubeconfig", "/k"]);
    assert.ok(!plain.help);
    assert.deepEqual(plain.flags, { output: "json", context: "c", kubeconfig: "/k", nodeAccess: "proxy", intervalMs: 1000 });
  });

  it("answers the usage for --help, -h and help, even beside a flag it would refuse", function () {
    for (const argv of [["--help"], ["-h"], ["help"], ["status", "kv", "-o", "yaml", "--help"]]) assert.deepEqual(parsePluginCommandLine(argv), { help: true }, argv.join(" "));
  });

  const refused: [string[], RegExp][] = [
    [[], /no command given/],
    [["frobnicate", "kv"], /unknown command 'frobnicate'/],
    [["status"], /usage: kubectl dynamo status NAME/],
    [["replace"], /usage: kubectl dynamo replace POD/],
    [["status", "kv", "extra"], /too many arguments/],
    [["ring", "kv", "-o", "yaml"], /--output 'yaml' must be json/],
    [["status", "kv", "--node-access", "ssh"], /--node-access 'ssh' must be proxy or direct/],
    [["rebalance", "kv", "--interval-ms", "5"], /--interval-ms must be a whole number between 100 and 3600000, got '5'/],
    [["status", "kv", "--colour"], /unknown option '--colour'/],
  ];
  for (const [argv, message] of refused) {
    it(`refuses '${argv.join(" ")}' as bad usage, naming the problem`, function () {
      assert.throws(
        () => parsePluginCommandLine(argv),
        (err: Error) => err instanceof UsageError && message.test(err.message.split("\n")[0]!),
      );
    });
  }
});
