/**
 * Client tokens on the client port, against real nodes started with a tokens file: no token or a wrong one is 401,
 * a token without the scope is 403, probes stay open, the CLI sends --token, and the file is re-read while the nodes
 * run (a new token works, a revoked one stops working, a broken file changes nothing).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runTokenCommand } from "../../cli/token-commands.js";
import { TestCluster, runCli } from "../helpers/dev-cluster.js";
import { http, kvUrl, type RawReply } from "../helpers/http.js";
import { exchange, requestBytes } from "../helpers/raw-http.js";

function createToken(file: string, name: string, bucket: string, scope: "r" | "rw"): string {
  let token = "";
  runTokenCommand(["create", "--name", name, "--bucket", bucket, "--scope", scope, "--file", file], { stdout: (t) => (token += t), stderr: () => undefined });
  return token.trim();
}

function assertError(reply: RawReply, status: number, code: string, pattern?: RegExp): void {
  assert.equal(reply.status, status, `expected ${status}, got ${reply.status}: ${reply.text()}`);
  const body = reply.json() as { error: string; message: string };
  assert.equal(body.error, code);
  if (pattern) assert.match(body.message, pattern);
}

async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within 15 s: ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe("client tokens on the client port", function () {
  let dir: string;
  let tokensFile: string;
  let cluster: TestCluster;
  let url: string;
  let writer: string;
  let reader: string;
  const auth = (token: string) => ({ Authorization: `Bearer ${token}` });

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), "dynamo-test-auth-"));
    tokensFile = join(dir, "tokens.yaml");
    writer = createToken(tokensFile, "writer", "default", "rw");
    reader = createToken(tokensFile, "reader", "default", "r");
    cluster = await TestCluster.start({ nodes: 3, partitions: 16, env: { DYNAMO_CLIENT_TOKENS_FILE: tokensFile } });
    url = cluster.clientUrls()[0]!;
  });
  after(async function () {
    await cluster?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it("no token or a wrong one is 401 with a JSON error and a WWW-Authenticate challenge", async function () {
    const none = await http("PUT", kvUrl(url, "default", "k"), { body: "x" });
    assertError(none, 401, "unauthorized", /requires a client token/);
    assert.match(String(none.headers["www-authenticate"]), /^Bearer realm="dynamo"/);
    assertError(await http("GET", kvUrl(url, "default", "k"), { headers: auth("dyn_wrong") }), 401, "unauthorized", /not valid/);
    assertError(await http("GET", kvUrl(url, "default", "k"), { headers: auth(writer.slice(0, -2)) }), 401, "unauthorized");
    assertError(await http("GET", `${url}/v1/cluster`), 401, "unauthorized");
    assertError(await http("GET", `${url}/v2/elsewhere`), 401, "unauthorized", undefined);
  });

  it("a read token reads but may not write; a token for one bucket may not touch another", async function () {
    assert.equal((await http("PUT", kvUrl(url, "default", "k"), { body: "v", headers: auth(writer) })).status, 204);
    const read = await http("GET", kvUrl(url, "default", "k"), { headers: auth(reader) });
    assert.equal(read.status, 200);
    assert.equal(read.text(), "v");
    const forbidden = await http("PUT", kvUrl(url, "default", "k"), { body: "changed", headers: auth(reader) });
    assertError(forbidden, 403, "forbidden", /token 'reader' may not write to bucket 'default'/);
    assert.match(String(forbidden.headers["www-authenticate"]), /insufficient_scope/);
    assertError(await http("DELETE", kvUrl(url, "default", "k"), { headers: auth(reader) }), 403, "forbidden");
    // A percent-encoded bucket name is the same bucket to the check as to the handler.
    assertError(await http("PUT", url, { rawPath: "/v1/kv/%64efault/k", body: "changed", headers: auth(reader) }), 403, "forbidden");
    assertError(await http("GET", kvUrl(url, "other", "k"), { headers: auth(writer) }), 403, "forbidden", /no access/);
    assert.equal((await http("GET", kvUrl(url, "default", "k"), { headers: auth(writer) })).text(), "v");
  });

  it("health, readiness, metrics and the console's page stay open; cluster and node views need any valid token", async function () {
    for (const path of ["/healthz", "/readyz", "/metrics", "/ui/", "/ui/console.js"]) assert.equal((await http("GET", `${url}${path}`)).status, 200, path);
    for (const path of ["/v1/cluster", "/v1/node", "/ui/api/overview"]) {
      assertError(await http("GET", `${url}${path}`), 401, "unauthorized");
      assert.equal((await http("GET", `${url}${path}`, { headers: auth(reader) })).status, 200, path);
    }
  });

  it("an unauthorized Expect: 100-continue upload is refused before its body is sent", async function () {
    const [reply] = await exchange(url, requestBytes("PUT", "/v1/kv/default/k", { "Content-Length": "1000", Expect: "100-continue" }), 1, 5000);
    assert.equal(reply?.status, 401);
  });

  it("the CLI sends --token and DYNAMO_TOKEN", async function () {
    const put = await runCli(["put", "default", "cli-key", "from the cli", "--url", url, "--token", writer]);
    assert.equal(put.code, 0, put.stderr);
    const denied = await runCli(["get", "default", "cli-key", "--url", url]);
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /unauthorized/);
    const env = await runCli(["get", "default", "cli-key", "--url", url], undefined, { DYNAMO_TOKEN: reader });
    assert.equal(env.code, 0, env.stderr);
    assert.equal(env.stdout, "from the cli");
  });

  it("the file is re-read: a new token works and a revoked one stops working within seconds", async function () {
    const late = createToken(tokensFile, "late", "default", "rw");
    await eventually(async () => (await http("GET", kvUrl(url, "default", "k"), { headers: auth(late) })).status === 200, "a new token is accepted");
    runTokenCommand(["revoke", "--name", "late", "--file", tokensFile], { stdout: () => undefined, stderr: () => undefined });
    await eventually(async () => (await http("GET", kvUrl(url, "default", "k"), { headers: auth(late) })).status === 401, "a revoked token is refused");
  });

  it("a broken tokens file is refused and the tokens already loaded stay in force", async function () {
    writeFileSync(tokensFile, "tokens: [ {name: half", { mode: 0o600 });
    await eventually(async () => /refused the new .*tokens\.yaml/.test(cluster.nodeLog(0)), "the node logs the refusal");
    assert.equal((await http("GET", kvUrl(url, "default", "k"), { headers: auth(reader) })).status, 200);
    assertError(await http("GET", kvUrl(url, "default", "k")), 401, "unauthorized");
  });
});
