import assert from "node:assert/strict";
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startFloor } from "../../../bench/floor/cluster.js";
import { describeRuntime, resolveRuntime } from "../../../bench/runtime.js";
import { startDevCluster } from "../../../bench/ycsb/store.js";
import { IMAGE_NODE_VERSION } from "../../../lib/node-release.js";

/**
 * `--runtime` of the benchmarks: which Node.js runs the servers. A bad value is refused with a message naming it
 * before anything starts, and the processes of both the store and the floor really run the binary given (checked by
 * the executable the kernel says each process runs, not by what the benchmark believes it started).
 */
describe("benchmarks' server runtime (--runtime)", function () {
  this.timeout(120_000);
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "dynamo-runtime-test-"));
  });
  afterEach(() => {
    delete process.env.DYNAMO_TOOLS_CACHE;
    rmSync(dir, { recursive: true, force: true });
  });

  function script(name: string, body: string): string {
    const path = join(dir, name);
    writeFileSync(path, `#!/bin/sh\n${body}\n`);
    chmodSync(path, 0o755);
    return path;
  }

  it("host is this process's Node.js, and a path is checked by running it", async () => {
    const host = await resolveRuntime("host");
    assert.deepEqual(host, { path: process.execPath, version: process.version, source: "host" });
    const link = join(dir, "node");
    symlinkSync(process.execPath, link);
    const given = await resolveRuntime(link);
    assert.deepEqual(given, { path: link, version: process.version, source: "path" });
    assert.equal(describeRuntime(given), `servers on Node.js ${process.version} (${link})`);
  });

  it("refuses a missing file, a program that is not Node.js, and a Node.js older than the store needs", async () => {
    await assert.rejects(resolveRuntime(join(dir, "missing")), /--runtime: .*missing is not an executable file; give host \(this Node\.js\), image/);
    await assert.rejects(resolveRuntime(script("not-node", "echo 'something else'")), /does not look like Node\.js \(its --version printed 'something else'\)/);
    await assert.rejects(resolveRuntime(script("old-node", "echo v20.18.0")), /is Node\.js v20\.18\.0; the store needs 20\.19 or later/);
    await assert.rejects(resolveRuntime(""), /--runtime must be host/);
  });

  it("image is the image's release, taken from the tools cache once it is there", async () => {
    process.env.DYNAMO_TOOLS_CACHE = dir;
    const bin = join(dir, `node-${IMAGE_NODE_VERSION}`, "bin");
    mkdirSync(bin, { recursive: true });
    // A stand-in that answers --version as the release would: what is asserted is that no fetch happens when the
    // cache holds the binary, and that the binary found is the one run.
    writeFileSync(join(bin, "node"), `#!/bin/sh\necho v${IMAGE_NODE_VERSION}\n`);
    chmodSync(join(bin, "node"), 0o755);
    const lines: string[] = [];
    const image = await resolveRuntime("image", (line) => lines.push(line));
    assert.deepEqual(image, { path: join(bin, "node"), version: `v${IMAGE_NODE_VERSION}`, source: "image" });
    assert.deepEqual(lines, [], "fetched although the cache held the binary");
  });

  it("runs the store's supervisor and nodes, and the floor's processes, on the binary given", async () => {
    // A copy of this Node.js under another path: the kernel then names it as each process's executable.
    const copy = join(dir, "node-copy");
    copyFileSync(process.execPath, copy);
    chmodSync(copy, 0o755);
    const runtime = await resolveRuntime(copy);
    const store = await startDevCluster({ nodes: 3, log: () => undefined, runtime: runtime.path });
    try {
      const dev = JSON.parse(readFileSync(join(store.dataDir!, "dev.json"), "utf8")) as { pid: number; nodes: { pid: number }[] };
      const pids = [dev.pid, ...dev.nodes.map((n) => n.pid)];
      assert.equal(pids.length, 4);
      for (const pid of pids) assert.equal(readlinkSync(`/proc/${pid}/exe`), copy, `process ${pid}`);
    } finally {
      await store.stop();
    }
    const floor = await startFloor({ nodes: 3, valueBytes: 16, runtime: runtime.path });
    try {
      assert.equal(floor.pids.length, 3);
      for (const pid of floor.pids) assert.equal(readlinkSync(`/proc/${pid}/exe`), copy, `floor process ${pid}`);
    } finally {
      await floor.stop();
    }
  });
});
