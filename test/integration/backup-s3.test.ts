/**
 * Backups to a real S3-compatible server (Versity Gateway, built by scripts/build-versitygw.sh; `.ci/run` builds it):
 * the object store's own contract (whole objects, multipart uploads of large files, listings, deletes, clear errors
 * for a missing object or bad credentials), and a backup and restore through `dynamo backup` with the credentials in
 * the AWS environment variables and `--s3-endpoint`. Skipped, saying so loudly, where the server has not been built
 * (`npm run versitygw:build`), except under DYNAMO_REQUIRE_S3=1 (CI), where that fails the suite.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { BackupError, openStore, parseLocation, type ObjectStore } from "../../backup/index.js";
import { DynamoClient } from "../../client/index.js";
import { runCli, TestCluster } from "../helpers/dev-cluster.js";
import { S3_ACCESS_KEY, S3_SECRET_KEY, S3Server } from "../../lib/local-s3.js";

async function bytesOf(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe("backups in S3 (versitygw)", function () {
  this.timeout(600_000);
  let s3: S3Server | undefined;
  let store: ObjectStore | undefined;

  before(async function () {
    if (!S3Server.available()) this.skip();
    s3 = await S3Server.start(["dynamo-backups"]);
    store = openStore(parseLocation("s3://dynamo-backups/team/prod"), {
      endpoint: s3.endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: S3_ACCESS_KEY, secretAccessKey: S3_SECRET_KEY },
    });
  });

  after(async function () {
    store?.close();
    await s3?.stop();
  });

  it("writes, lists, reads and deletes objects under the prefix; large files go up in parts", async function () {
    const big = randomBytes(20 * 1024 * 1024 + 12345);
    // A stream of unknown length, as a partition file is, so the upload must go multipart.
    const written = await store!.put("b1/partitions/00000.dkv.gz", Readable.from([big.subarray(0, 7_000_000), big.subarray(7_000_000)]), "application/gzip");
    assert.equal(written, big.length);
    assert.equal(await store!.put("b1/manifest.json", Buffer.from("{}"), "application/json"), 2);
    assert.equal(await store!.put("b2/progress.json", Buffer.from("{}"), "application/json"), 2);
    assert.equal(await store!.head("b1/partitions/00000.dkv.gz"), big.length);
    const back = await bytesOf(await store!.get("b1/partitions/00000.dkv.gz"));
    assert.equal(createHash("sha256").update(back).digest("hex"), createHash("sha256").update(big).digest("hex"));
    assert.deepEqual(await store!.children(""), ["b1", "b2"]);
    assert.deepEqual((await store!.list("b1/")).map((o) => o.key), ["b1/manifest.json", "b1/partitions/00000.dkv.gz"]);

    assert.equal(await store!.head("b1/nothing"), undefined);
    await assert.rejects(store!.get("b1/nothing"), (err: unknown) => err instanceof BackupError && err.code === "missing_object" && /s3:\/\/dynamo-backups\/team\/prod\/b1\/nothing does not exist/.test(err.message));

    await store!.delete(["b1/manifest.json", "b1/partitions/00000.dkv.gz", "b2/progress.json", "b2/never-there"]);
    assert.deepEqual(await store!.list(""), []);
  });

  it("a failing source leaves no object behind", async function () {
    const failing = new Readable({
      read() {
        this.push(randomBytes(9 * 1024 * 1024));
        setImmediate(() => this.destroy(new Error("the cluster went away")));
      },
    });
    await assert.rejects(store!.put("b3/partitions/00001.dkv.gz", failing, "application/gzip"), BackupError);
    assert.equal(await store!.head("b3/partitions/00001.dkv.gz"), undefined);
  });

  it("wrong credentials fail with the store's answer", async function () {
    const bad = openStore(parseLocation("s3://dynamo-backups/x"), { endpoint: s3!.endpoint, forcePathStyle: true, credentials: { accessKeyId: S3_ACCESS_KEY, secretAccessKey: "wrong" } });
    try {
      await assert.rejects(bad.put("k", Buffer.from("x"), "text/plain"), (err: unknown) => err instanceof BackupError && err.code === "store_failed" && /HTTP 403/.test(err.message));
    } finally {
      bad.close();
    }
  });

  it("dynamo backup create, list and restore through s3:// with the AWS environment variables", async function () {
    const source = await TestCluster.start({ nodes: 3, partitions: 16 });
    let target: TestCluster | undefined;
    try {
      target = await TestCluster.start({ nodes: 3, partitions: 8 });
      const client = new DynamoClient(source.clientUrls());
      for (let i = 0; i < 300; i++) await client.put("default", `s3-key-${i}`, `value-${i}`);
      const w = await client.put("default", "gone", "x");
      await client.delete("default", "gone", { context: w.context });
      const flags = ["--s3-endpoint", s3!.endpoint, "--s3-path-style"];
      const location = "s3://dynamo-backups/cli";
      const created = await runCli(["backup", "create", "--to", location, "--data-dir", source.dataDir, ...flags], undefined, s3!.env);
      assert.equal(created.code, 0, created.stderr);
      const listed = await runCli(["backup", "list", "--from", location, "--json", ...flags], undefined, s3!.env);
      assert.equal(listed.code, 0, listed.stderr);
      const backups = JSON.parse(listed.stdout) as { id: string; state: string; records: number }[];
      assert.equal(backups.length, 1);
      assert.equal(backups[0]!.state, "complete");
      assert.ok(backups[0]!.records >= 301);

      const restored = await runCli(["backup", "restore", "--from", location, "--data-dir", target.dataDir, ...flags], undefined, s3!.env);
      assert.equal(restored.code, 0, restored.stderr);
      const targetClient = new DynamoClient(target.clientUrls());
      for (let i = 0; i < 300; i += 7) {
        const got = await targetClient.get("default", `s3-key-${i}`);
        assert.ok(got.kind === "value" && got.value.toString() === `value-${i}`, `s3-key-${i}: ${JSON.stringify(got)}`);
      }
      assert.equal((await targetClient.get("default", "gone")).kind, "not_found");

      const noCredentials = await runCli(["backup", "list", "--from", location, ...flags], undefined, { AWS_ACCESS_KEY_ID: S3_ACCESS_KEY, AWS_SECRET_ACCESS_KEY: "wrong" });
      assert.equal(noCredentials.code, 1);
      assert.match(noCredentials.stderr, /s3:\/\/dynamo-backups\/cli: listing .* failed/);
    } finally {
      await source.destroy();
      await target?.destroy();
    }
  });
});
