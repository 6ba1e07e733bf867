import assert from "node:assert/strict";
import http from "node:http";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import {
  DEFAULT_URL,
  parseClientCommand,
  resolveUrls,
  runClientCommand,
  siblingsDocument,
  type CommandIo,
} from "../../../cli/client-commands.js";
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError } from "../../../lib/command-line.js";

const noSources = { env: {} };

/** The parts of a parsed command that say how to reach the nodes. */
function pick(command: ReturnType<typeof parseClientCommand>): Record<string, unknown> {
  const { urls, ca, token } = command as { urls: string[]; ca?: string; token?: string };
  return { urls, ...(ca !== undefined && { ca }), ...(token !== undefined && { token }) };
}

describe("dynamo get|put|delete: parsing", () => {
  it("parses each command with its flags", () => {
    assert.deepEqual(parseClientCommand(["get", "b", "k", "--r", "1", "--url", "http://127.0.0.1:1"], noSources), {
      name: "get",
      urls: ["http://127.0.0.1:1"],
      bucket: "b",
      key: "k",
      r: 1,
    });
    assert.deepEqual(parseClientCommand(["put", "b", "k", "v", "--context", "c", "--w", "3", "--content-type", "text/x"], noSources), {
      name: "put",
      urls: [DEFAULT_URL],
      bucket: "b",
      key: "k",
      value: "v",
      context: "c",
      w: 3,
      contentType: "text/x",
    });
    assert.deepEqual(parseClientCommand(["delete", "b", "a/b", "--context", "c"], noSources), {
      name: "delete",
      urls: [DEFAULT_URL],
      bucket: "b",
      key: "a/b",
      context: "c",
      w: undefined,
    });
  });

  it("leaves the value undefined when put has none, so it comes from stdin", () => {
    const command = parseClientCommand(["put", "b", "k"], noSources);
    assert.equal(command.name === "put" && command.value, undefined);
  });

  for (const [argv, why] of [
    [[], "no command"],
    [["list", "b", "k"], "an unknown command"],
    [["get", "b"], "a missing key"],
    [["get", "b", "k", "extra"], "an extra argument to get"],
    [["put", "b", "k", "v", "extra"], "two values"],
    [["get", "b", "k", "--w", "2"], "a write quorum on a read"],
    [["get", "b", "k", "--context", "c"], "a context on a read"],
    [["get", "b", "k", "--r", "0"], "a zero quorum"],
    [["put", "b", "k", "--w", "two"], "a quorum that is not a number"],
    [["get", "b", "k", "--bogus"], "an unknown flag"],
    [["get", "b", ""], "an empty key"],
    [["get", "b", "k", "--routing", "nearest"], "an unknown routing mode"],
  ] as const) {
    it(`rejects ${why} as bad usage`, () => {
      assert.throws(() => parseClientCommand([...argv], noSources), UsageError);
    });
  }

  it("takes the URL from --url, then DYNAMO_URL, then dev.json, then the default", () => {
    const devJson = JSON.stringify({ control: "x", nodes: [{ id: "n0", clientUrl: "http://127.0.0.1:9000" }] });
    assert.deepEqual(resolveUrls("http://a:1,http://b:2", { env: { DYNAMO_URL: "http://e:1" }, devJson }), ["http://a:1", "http://b:2"]);
    assert.deepEqual(resolveUrls(undefined, { env: { DYNAMO_URL: "http://e:1" }, devJson }), ["http://e:1"]);
    assert.deepEqual(resolveUrls(undefined, { env: {}, devJson }), ["http://127.0.0.1:9000"]);
    assert.deepEqual(resolveUrls(undefined, { env: {}, devJson: "{broken" }), [DEFAULT_URL]);
    assert.deepEqual(resolveUrls(undefined, { env: {} }), [DEFAULT_URL]);
  });

  it("takes the token and CA from the flags, then DYNAMO_TOKEN and DYNAMO_CA, and the CA of dev.json for its own nodes", () => {
    const devJson = JSON.stringify({ control: "x", clientCa: "/dev/ca.crt", nodes: [{ id: "n0", clientUrl: "https://127.0.0.1:9000" }] });
    const get = (argv: string[], env: Record<string, string> = {}) => parseClientCommand(["get", "b", "k", ...argv], { env, devJson });
    assert.deepEqual(pick(get([])), { urls: ["https://127.0.0.1:9000"], ca: "/dev/ca.crt" });
    assert.deepEqual(pick(get(["--ca", "/mine.crt", "--token", "t1"], { DYNAMO_CA: "/env.crt", DYNAMO_TOKEN: "t2" })), { urls: ["https://127.0.0.1:9000"], ca: "/mine.crt", token: "t1" });
    assert.deepEqual(pick(get([], { DYNAMO_CA: "/env.crt", DYNAMO_TOKEN: "t2" })), { urls: ["https://127.0.0.1:9000"], ca: "/env.crt", token: "t2" });
    // A URL named by hand is not one of dev.json's nodes, so dev.json's CA is not trusted for it.
    assert.deepEqual(pick(get(["--url", "https://db.example:443"])), { urls: ["https://db.example:443"] });
    assert.deepEqual(pick(get([], { DYNAMO_URL: "https://db.example:443" })), { urls: ["https://db.example:443"] });
    assert.throws(() => get(["--token", "has space"]), UsageError);
  });

  it("routes round-robin unless --routing or DYNAMO_ROUTING asks for ring", () => {
    const routing = (argv: string[], env: Record<string, string> = {}) => (parseClientCommand(["put", "b", "k", "v", ...argv], { env }) as { routing?: string }).routing;
    assert.equal(routing([]), undefined);
    assert.equal(routing(["--routing", "ring"]), "ring");
    assert.equal(routing([], { DYNAMO_ROUTING: "ring" }), "ring");
    assert.equal(routing(["--routing", "round-robin"], { DYNAMO_ROUTING: "ring" }), "round-robin");
  });

  it("prints siblings as JSON, as text when UTF-8 and base64 when not", () => {
    const document = siblingsDocument({
      kind: "siblings",
      context: "c",
      siblings: [
        { value: Buffer.from("héllo"), contentType: "text/plain" },
        { value: Buffer.from([0xff, 0xfe]), contentType: "application/octet-stream" },
      ],
    });
    assert.deepEqual(JSON.parse(document), {
      context: "c",
      siblings: [
        { contentType: "text/plain", value: "héllo" },
        { contentType: "application/octet-stream", valueBase64: "//4=" },
      ],
    });
  });
});

describe("dynamo get|put|delete: running", () => {
  let server: http.Server;
  let url: string;
  const stored = new Map<string, { value: Buffer; contentType: string }>();
  let cwd: string;

  before(async () => {
    // A one-key-space stand-in for a node: enough of the Client HTTP API to watch the commands' I/O.
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const path = (req.url ?? "").split("?")[0] ?? "";
        if (path.startsWith("/v1/kv/nobucket/")) {
          res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: "unknown_bucket", message: "no bucket" }));
        } else if (path === "/v1/kv/b/conflict") {
          const body = { context: "c-sib", siblings: [{ value: Buffer.from("x").toString("base64"), contentType: "text/plain" }] };
          res.writeHead(300, { "content-type": "application/json" }).end(JSON.stringify(body));
        } else if (req.method === "PUT") {
          stored.set(path, { value: Buffer.concat(chunks), contentType: req.headers["content-type"] ?? "" });
          res.writeHead(204, { "x-dynamo-context": "c-put" }).end();
        } else if (req.method === "DELETE") {
          stored.delete(path);
          res.writeHead(204, { "x-dynamo-context": "c-del" }).end();
        } else {
          const entry = stored.get(path);
          if (entry === undefined) {
            res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: "not_found", message: "no key" }));
          } else {
            res.writeHead(200, { "content-type": entry.contentType, "x-dynamo-context": "c-get" }).end(entry.value);
          }
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    cwd = mkdtempSync(join(tmpdir(), "dynamo-cli-"));
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    rmSync(cwd, { recursive: true, force: true });
  });

  async function run(argv: string[], stdin: Buffer = Buffer.alloc(0), env: Record<string, string> = { DYNAMO_URL: url }) {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    stdout.on("data", (c: Buffer) => out.push(c));
    stderr.on("data", (c: Buffer) => err.push(c));
    const io: CommandIo = { stdin: Readable.from([stdin]), stdout, stderr, env, cwd };
    const code = await runClientCommand(argv, io);
    return { code, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString("utf8") };
  }

  it("puts a value from the argument and gets it back on stdout, with the context on stderr", async () => {
    const put = await run(["put", "b", "greeting", "hello"]);
    assert.equal(put.code, EXIT_OK);
    assert.equal(put.stderr, "context: c-put\n");
    const get = await run(["get", "b", "greeting"]);
    assert.equal(get.code, EXIT_OK);
    assert.equal(get.stdout.toString(), "hello");
    assert.equal(get.stderr, "context: c-get\n");
  });

  it("reads the value from stdin byte for byte when none is given", async () => {
    const bytes = Buffer.from([0, 1, 2, 0xff, 10]);
    assert.equal((await run(["put", "b", "bin", "--content-type", "application/x-bin"], bytes)).code, EXIT_OK);
    const get = await run(["get", "b", "bin"]);
    assert.deepEqual(get.stdout, bytes);
  });

  it("exits 1 with 'not found' for an absent key", async () => {
    const get = await run(["get", "b", "missing"]);
    assert.equal(get.code, EXIT_FAILURE);
    assert.equal(get.stderr, "not found\n");
    assert.equal(get.stdout.length, 0);
  });

  it("prints a siblings document for concurrent versions", async () => {
    const get = await run(["get", "b", "conflict"]);
    assert.equal(get.code, EXIT_OK);
    assert.deepEqual(JSON.parse(get.stdout.toString()), { context: "c-sib", siblings: [{ contentType: "text/plain", value: "x" }] });
  });

  it("deletes and reports the tombstone's context", async () => {
    await run(["put", "b", "gone", "v"]);
    const del = await run(["delete", "b", "gone"]);
    assert.equal(del.code, EXIT_OK);
    assert.equal(del.stderr, "context: c-del\n");
    assert.equal((await run(["get", "b", "gone"])).code, EXIT_FAILURE);
  });

  it("exits 1 with one line naming the server's error code", async () => {
    const get = await run(["get", "nobucket", "k"]);
    assert.equal(get.code, EXIT_FAILURE);
    assert.equal(get.stderr, "dynamo: unknown_bucket: no bucket\n");
  });

  it("exits 1 with network_error when nothing listens", async () => {
    const get = await run(["get", "b", "k"], Buffer.alloc(0), { DYNAMO_URL: "http://127.0.0.1:1" });
    assert.equal(get.code, EXIT_FAILURE);
    assert.match(get.stderr, /^dynamo: network_error: .*\n$/);
  });

  it("exits 2 for bad usage and for arguments the API would reject", async () => {
    assert.equal((await run(["get", "b"])).code, EXIT_USAGE);
    assert.equal((await run(["get", "Bad!", "k"])).code, EXIT_USAGE);
    assert.equal((await run(["get", "b", "k", "--url", "ftp://x"])).code, EXIT_USAGE);
  });

  it("finds the node through .dynamo/dev.json when no URL is given", async () => {
    mkdirSync(join(cwd, ".dynamo"), { recursive: true });
    writeFileSync(join(cwd, ".dynamo", "dev.json"), JSON.stringify({ control: url, nodes: [{ id: "n0", clientUrl: url }] }));
    await run(["put", "b", "viadev", "yes"]);
    const get = await run(["get", "b", "viadev"], Buffer.alloc(0), {});
    assert.equal(get.stdout.toString(), "yes");
  });
});
