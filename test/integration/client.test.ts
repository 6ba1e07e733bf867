/**
 * `DynamoClient` and `dynamo get|put|delete` against a real three-node cluster: results come back as the typed union
 * the contract promises, server errors arrive with their codes, reads survive a dead node, and the CLI's output and
 * exit codes are what a person scripting it relies on.
 */
import assert from "node:assert/strict";
import { DynamoClient, DynamoClientError, type GetResult } from "../../client/index.js";
import { TestCluster, runCli } from "../helpers/dev-cluster.js";

function expectValue(result: GetResult): Extract<GetResult, { kind: "value" }> {
  assert.equal(result.kind, "value", JSON.stringify(result));
  return result as Extract<GetResult, { kind: "value" }>;
}

async function expectClientError(promise: Promise<unknown>, code: string, status: number | undefined): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof DynamoClientError, String(error));
    assert.equal(error.code, code, error.message);
    assert.equal(error.status, status);
    return true;
  });
}

describe("DynamoClient and the CLI on a three-node cluster", function () {
  let cluster: TestCluster;
  let urls: string[];
  let client: DynamoClient;

  before(async function () {
    cluster = await TestCluster.start({ nodes: 3, partitions: 64 });
    urls = cluster.clientUrls();
    client = new DynamoClient(urls);
  });
  after(async function () {
    client?.close();
    await cluster?.destroy();
  });

  it("a put through one node is read back through every node with its content type and a context", async function () {
    const { context } = await client.put("default", "greeting", "hello", { contentType: "text/plain" });
    assert.ok(context.length > 0);
    for (const url of urls) {
      const single = new DynamoClient(url);
      try {
        const read = expectValue(await single.get("default", "greeting"));
        assert.equal(read.value.toString(), "hello");
        assert.equal(read.contentType, "text/plain");
        assert.ok(read.context.length > 0);
      } finally {
        single.close();
      }
    }
  });

  it("keys with slashes, spaces and unicode, and binary values, round-trip exactly", async function () {
    const value = Buffer.from([0, 255, 1, 254, 10, 13]);
    for (const key of ["a/b/c", "/leading and trailing/", "ключ 🙂 ?#%&=+", Buffer.from("buffer/key", "utf8")]) {
      await client.put("default", key, value);
      const read = expectValue(await client.get("default", key, { r: 3 }));
      assert.deepEqual(read.value, value);
      assert.equal(read.contentType, "application/octet-stream");
    }
  });

  it("an absent key is not_found, not an error", async function () {
    assert.equal((await client.get("default", "never-written")).kind, "not_found");
  });

  it("a read-modify-write with the read's context replaces the old value without siblings", async function () {
    await client.put("default", "counter", "1");
    const first = expectValue(await client.get("default", "counter"));
    await client.put("default", "counter", "2", { context: first.context, w: 3 });
    const second = expectValue(await client.get("default", "counter", { r: 3 }));
    assert.equal(second.value.toString(), "2");
  });

  it("concurrent blind writes come back as siblings, and a write with their context resolves them", async function () {
    await client.put("default", "conflict", "left", { w: 3 });
    await client.put("default", "conflict", "right", { w: 3 });
    const read = await client.get("default", "conflict", { r: 3 });
    assert.equal(read.kind, "siblings", JSON.stringify(read));
    if (read.kind !== "siblings") return;
    assert.deepEqual(read.siblings.map((s) => s.value.toString()).sort(), ["left", "right"]);
    await client.put("default", "conflict", "merged", { context: read.context, w: 3 });
    assert.equal(expectValue(await client.get("default", "conflict", { r: 3 })).value.toString(), "merged");
  });

  it("a delete with the read's context makes the key not_found", async function () {
    await client.put("default", "doomed", "x", { w: 3 });
    const read = expectValue(await client.get("default", "doomed"));
    await client.delete("default", "doomed", { context: read.context, w: 3 });
    assert.equal((await client.get("default", "doomed", { r: 3 })).kind, "not_found");
  });

  it("server errors arrive with their status and stable code", async function () {
    await expectClientError(client.get("nosuchbucket", "k"), "unknown_bucket", 404);
    await expectClientError(client.get("default", "k", { r: 4 }), "invalid_request", 400);
    await expectClientError(client.put("default", "big", Buffer.alloc(1024 * 1024 + 1)), "value_too_large", 413);
    await expectClientError(client.put("default", "k", "v", { context: "not-a-context" }), "invalid_request", 400);
  });

  it("reports the cluster view", async function () {
    const view = await client.cluster();
    assert.equal(typeof view, "object");
    assert.ok(Object.keys(view).length > 0);
  });

  it("the CLI puts, gets and deletes with the promised output and exit codes", async function () {
    const url = urls[0]!;
    const put = await runCli(["put", "default", "cli/key", "from the cli", "--url", url]);
    assert.equal(put.code, 0, put.stderr);
    assert.match(put.stderr, /^context: \S+\n$/);

    const get = await runCli(["get", "default", "cli/key", "--url", url]);
    assert.equal(get.code, 0, get.stderr);
    assert.equal(get.stdout, "from the cli");
    const context = /^context: (\S+)\n$/.exec(get.stderr)?.[1];
    assert.ok(context !== undefined, get.stderr);

    const fromStdin = await runCli(["put", "default", "cli/key", "--context", context, "--w", "3", "--url", url], "via stdin");
    assert.equal(fromStdin.code, 0, fromStdin.stderr);
    assert.equal((await runCli(["get", "default", "cli/key", "--r", "3", "--url", url])).stdout, "via stdin");

    const del = await runCli(["delete", "default", "cli/key", "--w", "3", "--url", url]);
    assert.equal(del.code, 0, del.stderr);
    const gone = await runCli(["get", "default", "cli/key", "--r", "3", "--url", url]);
    assert.deepEqual([gone.code, gone.stderr, gone.stdout], [1, "not found\n", ""]);

    const usage = await runCli(["get", "default", "--url", url]);
    assert.equal(usage.code, 2);
    const badQuorum = await runCli(["get", "default", "k", "--r", "9", "--url", url]);
    assert.equal(badQuorum.code, 2, badQuorum.stderr);
    assert.equal(badQuorum.stderr.split("\n").filter(Boolean).length, 1);
  });

  it("the CLI prints a siblings document for concurrent versions", async function () {
    const url = urls[1]!;
    await runCli(["put", "default", "cli-conflict", "one", "--w", "3", "--url", url]);
    await runCli(["put", "default", "cli-conflict", "two", "--w", "3", "--url", url]);
    const get = await runCli(["get", "default", "cli-conflict", "--r", "3", "--url", url]);
    assert.equal(get.code, 0, get.stderr);
    const document = JSON.parse(get.stdout) as { context: string; siblings: Array<{ value: string }> };
    assert.ok(document.context.length > 0);
    assert.deepEqual(document.siblings.map((s) => s.value).sort(), ["one", "two"]);
  });

  it("reads fail over past a dead node while writes to it report network_error", async function () {
    await client.put("default", "survivor", "still here", { w: 3 });
    await cluster.kill(0);
    const deadFirst = new DynamoClient(urls);
    try {
      for (let i = 0; i < urls.length; i++) {
        assert.equal(expectValue(await deadFirst.get("default", "survivor")).value.toString(), "still here");
      }
      const toDeadNode = new DynamoClient(urls[0]!);
      try {
        await expectClientError(toDeadNode.put("default", "survivor", "lost"), "network_error", undefined);
      } finally {
        toDeadNode.close();
      }
    } finally {
      deadFirst.close();
      await cluster.restart(0);
    }
  });
});
