import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseTokenCommand, runTokenCommand } from "../../../cli/token-commands.js";
import { UsageError } from "../../../lib/command-line.js";
import { ClientTokens, parseClientTokens } from "../../../node/http/index.js";

function run(argv: string[]): { code: number; stdout: string; stderr: string } {
  let stdout = "";
  let stderr = "";
  const code = runTokenCommand(argv, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
  return { code, stdout, stderr };
}

describe("dynamo token", function () {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "dynamo-test-tokens-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("parses create and revoke, with several buckets and '*'", function () {
    assert.deepEqual(parseTokenCommand(["create", "--name", "app", "--bucket", "carts,orders", "--bucket", "*", "--scope", "rw"]), {
      name: "create",
      tokenName: "app",
      grants: { carts: "rw", orders: "rw", "*": "rw" },
      file: undefined,
    });
    assert.deepEqual(parseTokenCommand(["revoke", "--name", "app", "--file", "t.yaml"]), { name: "revoke", tokenName: "app", file: "t.yaml" });
    for (const argv of [
      ["create", "--bucket", "carts", "--scope", "rw"],
      ["create", "--name", "app", "--scope", "rw"],
      ["create", "--name", "app", "--bucket", "carts", "--scope", "write"],
      ["create", "--name", "app", "--bucket", "Carts", "--scope", "r"],
      ["create", "--name", "a b", "--bucket", "carts", "--scope", "r"],
      ["revoke", "--name", "app"],
      ["rotate", "--name", "app"],
      [],
    ]) {
      assert.throws(() => parseTokenCommand(argv), UsageError, argv.join(" "));
    }
  });

  it("create prints the token once and stores only its digest, owner-only; nodes accept the token", function () {
    const file = join(dir, "tokens.yaml");
    const first = run(["create", "--name", "cart-service", "--bucket", "carts", "--scope", "rw", "--file", file]);
    assert.equal(first.code, 0);
    const token = first.stdout.trim();
    assert.match(token, /^dyn_/);
    const text = readFileSync(file, "utf8");
    assert.ok(!text.includes(token), "the file never holds the token");
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const second = run(["create", "--name", "reporting", "--bucket", "*", "--scope", "r", "--file", file]);
    const parsed = parseClientTokens(readFileSync(file, "utf8"), file);
    assert.deepEqual(parsed.tokens.map((t) => t.name), ["cart-service", "reporting"]);
    const tokens = new ClientTokens(parsed);
    assert.equal(tokens.identify(token)?.name, "cart-service");
    assert.equal(tokens.identify(second.stdout.trim())?.name, "reporting");
    assert.throws(() => run(["create", "--name", "reporting", "--bucket", "x", "--scope", "r", "--file", file]), /already has a token named 'reporting'/);
  });

  it("create without a file prints the entry to add on stderr", function () {
    const result = run(["create", "--name", "app", "--bucket", "carts", "--scope", "r"]);
    assert.match(result.stderr, /name: app\n\s+sha256: [0-9a-f]{64}\n\s+grants:\n\s+carts: r/);
    assert.ok(!result.stderr.includes(result.stdout.trim()));
  });

  it("revoke removes the entry by name", function () {
    const file = join(dir, "tokens.yaml");
    const token = run(["create", "--name", "app", "--bucket", "carts", "--scope", "rw", "--file", file]).stdout.trim();
    assert.equal(run(["revoke", "--name", "app", "--file", file]).code, 0);
    assert.equal(new ClientTokens(parseClientTokens(readFileSync(file, "utf8"), file)).identify(token), undefined);
    assert.throws(() => run(["revoke", "--name", "app", "--file", file]), /no token named 'app'/);
  });
});
