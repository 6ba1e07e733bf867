/**
 * The record bound against the attack that once grew a key past what nodes can send each other: blind writes to one
 * key, each adding a sibling. With the default limits scaled down 16-fold (64 KiB values, 512 KiB records), 55 blind
 * writes of 60 KiB once built a 3.3 MB record and a 4.4 MB GET body (77 MB at the defaults); now the writes that
 * would pass the bound are refused with 409 record_too_large naming the limit, reads stay small, and the cluster
 * keeps serving other keys.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { REPO_ROOT, TestCluster } from "../helpers/dev-cluster.js";
import { contextOf, http, kvUrl } from "../helpers/http.js";

const CONFIG = join(REPO_ROOT, "test", "integration", "fixtures", "record-bound.yaml");
const RECORD_BYTES_MAX = 512 * 1024;
const VALUE_BYTES = 60 * 1024;

describe("the record bound under blind writes", function () {
  let cluster: TestCluster;

  before(async function () {
    cluster = await TestCluster.start({ nodes: 3, partitions: 32, config: CONFIG });
  });
  after(async function () {
    await cluster?.destroy();
  });

  it("55 blind writes to one key: those past the bound get 409 record_too_large, and reads stay within it", async function () {
    const urls = cluster.clientUrls();
    const statuses: number[] = [];
    let refusal = "";
    for (let i = 0; i < 55; i++) {
      // w=3: each write is on every replica before the next, so each coordinator checks the bound against the whole
      // record. At w=2 the third replica may still be taking the last write when it coordinates the next one, and then
      // rightly accepts one more (merges allow up to twice the bound): a CI run once saw 9 accepted that way.
      const reply = await http("PUT", kvUrl(urls[i % urls.length]!, "default", "hot", "?w=3"), { body: Buffer.alloc(VALUE_BYTES, i), headers: { "Content-Type": "application/octet-stream" } });
      statuses.push(reply.status);
      if (reply.status === 409) refusal = reply.text();
    }
    const accepted = statuses.filter((s) => s === 204).length;
    assert.ok(accepted >= 7 && accepted <= 8, `about ${Math.floor(RECORD_BYTES_MAX / VALUE_BYTES)} writes fit in the record, ${accepted} were accepted: ${statuses.join(",")}`);
    assert.ok(statuses.every((s) => s === 204 || s === 409), statuses.join(","));
    const error = JSON.parse(refusal) as { error: string; message: string };
    assert.equal(error.error, "record_too_large");
    assert.match(error.message, /recordBytesMax/);

    const get = await http("GET", kvUrl(urls[0]!, "default", "hot", "?r=3"));
    assert.equal(get.status, 300);
    assert.ok(get.body.length < (2 * RECORD_BYTES_MAX * 4) / 3 + 64 * 1024, `GET body of ${get.body.length} bytes`);

    // Other keys through every node are unaffected, and writing back with the context resolves the key.
    for (const url of urls) assert.equal((await http("PUT", kvUrl(url, "default", `other-${url}`), { body: "fine" })).status, 204);
    const resolved = await http("PUT", kvUrl(urls[1]!, "default", "hot"), { body: "merged", headers: { "X-Dynamo-Context": contextOf(get) } });
    assert.equal(resolved.status, 204, resolved.text());
    const after = await http("GET", kvUrl(urls[2]!, "default", "hot", "?r=3"));
    assert.equal(after.status, 200);
    assert.equal(after.text(), "merged");
  });
});
