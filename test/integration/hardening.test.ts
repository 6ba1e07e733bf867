/**
 * Smaller holes found by probing the store from outside: keys that forge log lines, a misspelt bucket field that
 * silently changed a bucket's semantics, a bucket whose n the cluster cannot give, malformed JSON to the dev control
 * API, and stored values a browser might sniff as HTML.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readDevState } from "../../dev/state.js";
import { REPO_ROOT, TestCluster, runCli } from "../helpers/dev-cluster.js";
import { http, kvUrl } from "../helpers/http.js";

const CONFIG = join(REPO_ROOT, "test", "integration", "fixtures", "wide-bucket.yaml");

describe("hardening of the client port and the dev tools", function () {
  let cluster: TestCluster;
  let url: string;

  before(async function () {
    cluster = await TestCluster.start({ nodes: 3, partitions: 16, config: CONFIG });
    url = cluster.clientUrls()[0]!;
  });
  after(async function () {
    await cluster?.destroy();
  });

  it("a key with a newline and terminal escapes is logged escaped, on one line", async function () {
    const forged = "evil\n2030-01-01T00:00:00.000Z node-0 error forged line \u001b[2J\u009b31m";
    for (let i = 0; i < 4; i++) assert.equal((await http("PUT", kvUrl(url, "default", forged), { body: `v${i}` })).status, 204);
    const escaped = /evil\\n2030-01-01T00:00:00\.000Z node-0 error forged line \\u001b\[2J\\x9b31m/;
    const logs = await cluster.logsMatching(escaped, [0, 1, 2]);
    assert.match(logs, escaped, "the key appears escaped in a sibling warning");
    assert.doesNotMatch(logs, /^2030-01-01/m, "no line was forged");
    assert.ok(!logs.includes("\u001b") && !logs.includes("\u009b"), "no raw escape reaches the log");
  });

  it("stored values are served with X-Content-Type-Options: nosniff", async function () {
    await http("PUT", kvUrl(url, "default", "page"), { body: "<script>alert(1)</script>", headers: { "Content-Type": "text/html" } });
    const get = await http("GET", kvUrl(url, "default", "page"));
    assert.equal(get.status, 200);
    assert.equal(get.headers["x-content-type-options"], "nosniff");
  });

  it("a bucket whose n exceeds the nodes is named in /readyz and /v1/cluster and in the log", async function () {
    const ready = await http("GET", `${url}/readyz`);
    assert.equal(ready.status, 200, "the other buckets still work, so the node stays ready");
    const warnings = (ready.json() as { warnings?: string[] }).warnings ?? [];
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /bucket 'wide' has n=5 but only 3 nodes own partitions.*writes at w=4 fail/);
    assert.deepEqual(((await http("GET", `${url}/v1/cluster`)).json() as { warnings: string[] }).warnings, warnings);
    assert.match(await cluster.logsMatching(/warn bucket 'wide' has n=5/, [0]), /warn bucket 'wide' has n=5/);
    assert.equal((await http("PUT", kvUrl(url, "wide", "k"), { body: "x" })).status, 503, "as the warning says, writes at w=4 fail");
  });

  it("malformed JSON to the dev control API is a 400 with a JSON error", async function () {
    const state = readDevState(cluster.dataDir)!;
    const res = await fetch(`${state.control}/scale`, {
      method: "POST",
      headers: { Authorization: `Bearer ${cluster.token}`, "Content-Type": "application/json" },
      body: "{not json",
    });
    assert.equal(res.status, 400);
    const body = (await res.json()) as { error: string; message: string };
    assert.equal(body.error, "invalid_request");
    assert.match(body.message, /JSON/);
  });

  it("a misspelt bucket field stops the node at start, naming the field", async function () {
    const dir = mkdtempSync(join(tmpdir(), "dynamo-test-config-"));
    try {
      const config = join(dir, "typo.yaml");
      writeFileSync(config, "buckets:\n  - { name: carts, n: 3, r: 2, w: 2, reconcilation: lww }\n");
      const run = await runCli(["node", "--config", config, "--token-file", join(dir, "none")]);
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, /buckets\.0.*Unrecognized key.*"reconcilation"/);
      assert.equal(run.stderr.trim().split("\n").length, 1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
