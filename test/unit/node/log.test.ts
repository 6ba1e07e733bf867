import assert from "node:assert/strict";
import { replicationWarnings } from "../../../node/config/index.js";
import { createLogger, escapeControls, keyForLog } from "../../../node/log.js";

describe("log lines", function () {
  it("escape every control character, so a message is always one printable line", function () {
    const lines: string[] = [];
    const log = createLogger("node-0", (line) => lines.push(line));
    log.warn("key a\nb\r\u001b[2J\u009b31m\u2028\u0000 end");
    assert.equal(lines.length, 1);
    assert.ok(lines[0]!.endsWith("key a\\nb\\r\\x1b[2J\\x9b31m\\u2028\\x00 end"), lines[0]);
    assert.ok([...lines[0]!].every((c) => c >= " " && !(c >= "\u007f" && c <= "\u009f") && c !== "\u2028" && c !== "\u2029"));
  });

  it("leave ordinary text, unicode included, as it is", function () {
    assert.equal(escapeControls("café 🙂 [ok] 100%"), "café 🙂 [ok] 100%");
  });

  it("quote keys so that spaces and escapes are told apart from the message", function () {
    assert.equal(keyForLog("carts", Buffer.from("a b\n")), 'carts/"a b\\n"');
  });
});

describe("replication warnings", function () {
  const bucket = (name: string, n: number, r: number, w: number) => ({ name, n, r, w, reconciliation: "siblings" as const });

  it("name each bucket whose n the ring's owners cannot give, and which operations fail", function () {
    assert.deepEqual(replicationWarnings([bucket("default", 3, 2, 2)], 3), []);
    const [wide] = replicationWarnings([bucket("default", 3, 2, 2), bucket("wide", 5, 2, 4)], 3);
    assert.match(wide!, /^bucket 'wide' has n=5 but only 3 nodes own partitions: each key gets at most 3 replicas and writes at w=4 fail/);
    const [lonely] = replicationWarnings([bucket("default", 3, 2, 2)], 1);
    assert.match(lonely!, /only 1 node owns partitions.*writes at w=2 and reads at r=2 fail/);
    assert.doesNotMatch(replicationWarnings([bucket("x", 3, 1, 1)], 2)[0]!, /fail/);
  });
});
