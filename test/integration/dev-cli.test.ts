/**
 * The command line's contract: one-line messages, exit code 2 for bad usage and 1 for runtime failures, and the
 * `dynamo dev` subcommands on a running local cluster.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { COMPILER_FLAG, YOUNG_GENERATION_FLAG } from "../../dev/supervisor.js";
import { CLI, TestCluster, freePortBlock, runCli } from "../helpers/dev-cluster.js";

/** The pids of the processes whose command line names `path` (a cluster's data directory). */
function processesNaming(path: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "latin1").split("\0").some((arg) => arg.includes(path))) pids.push(Number(entry));
    } catch {
      // The process ended while the list was read.
    }
  }
  return pids;
}

describe("dynamo CLI", function () {
  this.timeout(120_000);

  it("bad usage exits 2 with a one-line message; a missing cluster exits 1", async function () {
    const empty = mkdtempSync(join(tmpdir(), "dynamo-cli-"));
    try {
      for (const args of [["frobnicate"], ["dev", "scale"], ["dev", "kill", "x"], ["dev", "launch"], ["node", "--port", "99999", "--token-file", "/nonexistent"], ["node", "--id", "n1"], ["dev", "--nodes", "0", "--data-dir", empty]]) {
        const r = await runCli(args);
        assert.equal(r.code, 2, `dynamo ${args.join(" ")}: exit ${r.code}, stderr ${r.stderr}`);
        assert.match(r.stderr, /^dynamo: /);
      }
      const noToken = await runCli(["node", "--id", "n1"]);
      assert.match(noToken.stderr, /--token-file is required/);
      const none = await runCli(["dev", "status", "--data-dir", empty]);
      assert.equal(none.code, 1);
      assert.match(none.stderr, /no local cluster is running/);
      assert.equal(none.stderr.trim().split("\n").length, 1);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it("a local cluster stopped while it starts stops for good, leaving no node running", async function () {
    // SIGTERM lands while the supervisor makes the cluster's certificates, before it starts any node: its stop then
    // finds nothing to end, and the supervisor used to go on starting the nodes and serve them, the signal spent.
    const dataDir = mkdtempSync(join(tmpdir(), "dynamo-cli-"));
    const basePort = await freePortBlock(6 + 8);
    const child = spawn(process.execPath, [CLI, "dev", "--nodes", "3", "--data-dir", dataDir, "--base-port", String(basePort)], { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    try {
      const deadline = Date.now() + 30_000;
      while (!existsSync(join(dataDir, "tls")) && child.exitCode === null) {
        assert.ok(Date.now() < deadline, `the supervisor made no certificate directory within 30 s:\n${output}`);
        await new Promise((r) => setTimeout(r, 2));
      }
      child.kill("SIGTERM");
      const code = await Promise.race([exited, new Promise<"running">((r) => setTimeout(() => r("running"), 30_000))]);
      assert.notEqual(code, "running", `the supervisor still runs 30 s after SIGTERM:\n${output}`);
      assert.equal(code, 0, output);
      await new Promise((r) => setTimeout(r, 500));
      assert.deepEqual(processesNaming(dataDir), [], `processes left running with ${dataDir}:\n${output}`);
    } finally {
      child.kill("SIGKILL");
      for (const pid of processesNaming(dataDir)) process.kill(pid, "SIGKILL");
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it("a supervisor killed without stopping its nodes is replaced by one that takes them over, data and all", async function () {
    const cluster = await TestCluster.start({ nodes: 3, partitions: 32 });
    try {
      const put = await runCli(["put", "default", "survivor", "still here", "--url", cluster.clientUrls()[0]!]);
      assert.equal(put.code, 0, put.stderr);
      const pidsBefore = cluster.nodes().map((n) => n.pid);
      // The nodes run with the image's runtime settings (the Dockerfile's ENV), the young generation's included.
      const environ = readFileSync(`/proc/${pidsBefore[0]}/environ`, "latin1").split("\0");
      const nodeOptions = environ.find((e) => e.startsWith("NODE_OPTIONS="));
      assert.ok(nodeOptions?.slice("NODE_OPTIONS=".length).split(" ").includes(YOUNG_GENERATION_FLAG), nodeOptions ?? "no NODE_OPTIONS");
      assert.ok(environ.includes("MALLOC_ARENA_MAX=2"));
      // And with the image's compiler setting, which goes on the command line.
      const argv = readFileSync(`/proc/${pidsBefore[0]}/cmdline`, "latin1").split("\0");
      assert.ok(argv.includes(COMPILER_FLAG), argv.join(" "));
      await cluster.crashSupervisor();
      assert.deepEqual(cluster.nodes().map((n) => n.pid), pidsBefore, "the same node processes, taken over");
      assert.match(cluster.log(), /still running from an earlier supervisor/);
      const get = await runCli(["get", "default", "survivor", "--url", cluster.clientUrls()[1]!]);
      assert.equal(get.stdout, "still here");
      await cluster.kill(2);
      assert.equal(cluster.nodes()[2]!.pid, null, "an adopted node can be killed");
      await cluster.restart(2);
      assert.ok(cluster.nodes()[2]!.pid);
    } finally {
      await cluster.destroy();
    }
  });

  it("dev status, kill, restart and scale act on the running cluster; dev.json tracks its nodes", async function () {
    const cluster = await TestCluster.start({ nodes: 3, partitions: 32 });
    try {
      const status = JSON.parse((await cluster.dev("status")).stdout) as { epoch: number; partitions: number; nodes: { id: string; state: string; partitions: number }[]; transfers: { pending: number; active: number } };
      assert.equal(status.partitions, 32);
      assert.deepEqual(status.nodes.map((n) => [n.id, n.state]), [["node-0", "valid"], ["node-1", "valid"], ["node-2", "valid"]]);
      assert.equal(status.nodes.reduce((sum, n) => sum + n.partitions, 0), 32);
      assert.deepEqual(status.transfers, { pending: 0, active: 0 });

      await cluster.kill(1);
      assert.equal(cluster.nodes()[1]!.pid, null, "dev.json shows the killed node without a pid");
      const afterKill = JSON.parse((await cluster.dev("status")).stdout) as { nodes: { state: string }[] };
      assert.equal(afterKill.nodes[1]!.state, "stopped");
      await cluster.restart(1);
      assert.ok(cluster.nodes()[1]!.pid, "and with one after the restart");

      const tooSmall = await cluster.dev("scale", "2");
      assert.equal(tooSmall.code, 2);
      assert.match(tooSmall.stderr, /n=3/);
      const grow = await cluster.dev("scale", "4");
      assert.equal(grow.code, 0, grow.stderr);
      assert.match(JSON.parse(grow.stdout).action, /planned \d+ transfers towards 4 members/);
      assert.equal(cluster.nodes().length, 4);
    } finally {
      await cluster.destroy();
    }
  });

  it("a scale-up right after a scale-down starts the node again and plans for it", async function () {
    // The supervisor's background loop steps every fraction of a second after a scale-down. A scale-up used to take
    // its new count only once the new node answered, so a step in between forgot the node (no process yet) or
    // stopped it (not wanted yet): the command said "nothing to change" and the node ran untracked, outside the ring.
    // Before it starts a node the supervisor asks the node's peer port whether an earlier supervisor left it running,
    // for up to a second; a port that accepts and never answers holds that window open for the loop's next step,
    // which on the old code fell into it only a few times in a hundred.
    const cluster = await TestCluster.start({ nodes: 3, partitions: 16 });
    const held: Socket[] = [];
    try {
      for (let cycle = 1; cycle <= 3; cycle++) {
        const silent = createServer((socket) => held.push(socket));
        await new Promise<void>((resolve) => silent.listen(cluster.basePort + 2 * 3 + 1, "127.0.0.1", resolve));
        // The node needs the port itself once the question has timed out; the connection holding it open stays.
        setTimeout(() => silent.close(), 600);
        const grow = await cluster.dev("scale", "4");
        assert.equal(grow.code, 0, grow.stderr);
        // The command reports the step it ran itself. With nothing stored the transfers end at once, so the background
        // loop may have planned them and the command's own step then finalizes them; either shows the node planned for.
        // The bug this test is about said "nothing to change" instead.
        const grown = JSON.parse(grow.stdout) as { nodes: number; action: string };
        assert.equal(grown.nodes, 4, `cycle ${cycle}: ${grow.stdout}`);
        assert.match(grown.action, /towards 4 members|finalized/, `cycle ${cycle}: ${grow.stdout}`);
        await cluster.settled(4, 30_000);
        const shrink = await cluster.dev("scale", "3");
        assert.equal(shrink.code, 0, shrink.stderr);
        await cluster.settled(3, 30_000);
      }
    } finally {
      for (const socket of held) socket.destroy();
      await cluster.destroy();
    }
  });
});
