/**
 * The network lab itself (test/netns/): every fault the nemesis uses is made by the kernel and measured from the
 * namespaces it should affect, and a run cleans up after itself however it ends. Needs root and the Debian packages
 * iproute2, nftables, ethtool and libfaketime (`.ci/run` installs them); skipped with the reason otherwise.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { run } from "../netns/exec.js";
import { LAB_STATE_DIR, LabLeftoversError, NetLab, labUnsupportedReason } from "../netns/lab.js";
import { runInLab } from "../netns/launch.js";
import { REPO_ROOT } from "../helpers/dev-cluster.js";

const FAST = join(REPO_ROOT, "test", "integration", "fixtures", "fast-failover.yaml");

async function namespacesOf(runId: string): Promise<string[]> {
  return (await run(["ip", "netns", "list"])).split("\n").map((l) => l.split(" ")[0]!).filter((n) => n.startsWith(`dnf${runId}-`));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z ");
  } catch {
    return false;
  }
}

async function until(check: () => Promise<boolean> | boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return check();
}

describe("network lab", function () {
  this.timeout(180_000);

  before(async function () {
    const reason = await labUnsupportedReason();
    if (reason) {
      console.log(`    skipped: ${reason}`);
      this.skip();
    }
  });

  it("makes partitions, one-way and asymmetric cuts, bad links and clock skew with the kernel", async function () {
    const { code, output, lab } = await runInLab("test/netns/selftest.ts", [FAST], { nodes: 3 });
    assert.equal(code, 0, output);
    // Each check's detail has the shape test/netns/selftest.ts prints for it.
    const checks = new Map<string, unknown>();
    const detail = <T>(check: string): T => checks.get(check) as T;
    for (const line of output.split("\n")) if (line.startsWith("CHECK ")) {
      const parsed = JSON.parse(line.slice(6)) as { check: string; detail: unknown };
      checks.set(parsed.check, parsed.detail);
    }
    const cluster = detail<{ value: string; peerUrls: string[] }>("cluster");
    assert.equal(cluster.value, "v");
    assert.deepEqual(cluster.peerUrls, ["https://198.18.0.10:8081", "https://198.18.0.11:8081", "https://198.18.0.12:8081"]);
    const outcome = (check: string, pair: string) => detail<Record<string, { outcome: string }>>(check)[pair]!.outcome;
    assert.equal(outcome("healthy", "n0n1"), "connected");
    assert.equal(outcome("partition-drop", "n0n1"), "timeout");
    assert.equal(outcome("partition-drop", "n1n0"), "timeout");
    assert.equal(outcome("partition-drop", "n1n2"), "connected", "nodes on one side still reach each other");
    assert.equal(outcome("partition-drop", "clientN0"), "connected", "clients are not partitioned");
    assert.equal(outcome("partition-reject", "n0n1"), "refused");
    assert.equal(outcome("partition-reject", "n1n0"), "refused");
    assert.equal(outcome("asymmetric", "n0n1"), "timeout", "n0 cannot reach n1's ports");
    assert.equal(outcome("asymmetric", "n1n0"), "connected", "n1 still reaches n0");
    assert.equal(outcome("one-way", "n0n1"), "timeout");
    assert.equal(outcome("one-way", "n1n0"), "timeout", "a TCP handshake needs both directions");
    assert.equal(outcome("one-way", "n0n2"), "connected");
    assert.equal(outcome("bridge", "n0n1"), "timeout");
    assert.equal(outcome("bridge", "n0n2"), "connected");
    assert.equal(outcome("bridge", "n2n1"), "connected");
    const delay = detail<{ delayedMs: number[]; otherMs: number }>("delay");
    // 60 ms each way (±10 ms jitter): a handshake takes at least 2 × 50 ms through the relay, and other links are not slowed.
    const sorted = [...delay.delayedMs].sort((a, b) => a - b);
    assert.ok(sorted[0]! >= 100, `delayed handshakes: ${delay.delayedMs.join(", ")} ms`);
    assert.ok(delay.otherMs < 100, `an unimpaired link took ${delay.otherMs} ms`);
    assert.equal(outcome("loss", "clientN0"), "timeout");
    assert.equal(outcome("healed", "clientN0"), "connected");
    assert.equal(outcome("healed", "n0n1"), "connected");
    const rate = detail<{ bytes: number; ms: number }>("rate");
    assert.equal(rate.bytes, 262144);
    assert.ok(rate.ms >= 700, `256 KiB at 2 Mbit/s arrived in ${rate.ms} ms`);
    const clock = detail<{ offsetMs: number }>("clock");
    assert.ok(clock.offsetMs >= 29_000 && clock.offsetMs < 40_000, `skewed clock offset ${clock.offsetMs} ms`);
    assert.deepEqual(await namespacesOf(lab.runId), [], "the lab's namespaces are gone");
    assert.ok(!existsSync(lab.dir), "the lab's files are gone");
    assert.ok(!existsSync(join(LAB_STATE_DIR, `${lab.runId}.json`)), "the lab's lock is gone");
  });

  it("removes a run whose owner was SIGKILLed: processes, namespaces, files and lock", async function () {
    const child = spawn(process.execPath, ["--import", "tsx", "test/netns/hold.ts"], { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "inherit"] });
    const line = await new Promise<string>((resolve) => child.stdout!.once("data", (d: Buffer) => resolve(d.toString())));
    const { runId, pid, dir } = JSON.parse(line) as { runId: string; pid: number; dir: string };
    assert.ok((await namespacesOf(runId)).length >= 3);
    assert.ok(alive(pid));
    child.kill("SIGKILL");
    assert.ok(await until(async () => (await namespacesOf(runId)).length === 0 && !alive(pid), 20_000), "the reaper removed the namespaces and killed their processes");
    assert.ok(await until(() => !existsSync(dir) && !existsSync(join(LAB_STATE_DIR, `${runId}.json`)), 5000), "the reaper removed the files and the lock");
  });

  it("refuses to start beside a dead run's leftovers, removes nothing, and names the command that does", async function () {
    const runId = "0dead0";
    await run(["ip", "netns", "add", `dnf${runId}-sw`]);
    writeFileSync(join(LAB_STATE_DIR, `${runId}.json`), JSON.stringify({ runId, pid: 2 ** 22 + 1, dir: "/nonexistent" }));
    try {
      await assert.rejects(NetLab.create({ nodes: 1 }), (err: unknown) => {
        assert.ok(err instanceof LabLeftoversError);
        assert.match(err.message, /dnf0dead0-sw/);
        assert.match(err.message, /npm run netns:clean/);
        return true;
      });
      assert.deepEqual(await namespacesOf(runId), [`dnf${runId}-sw`], "the leftover is still there");
      const cleaned = spawn("npm", ["run", "--silent", "netns:clean", "--", "--run", runId], { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      cleaned.stdout!.on("data", (d: Buffer) => (out += d.toString()));
      const code = await new Promise((r) => cleaned.on("exit", r));
      assert.equal(code, 0);
      assert.match(out, /removed run 0dead0/);
      assert.deepEqual(await namespacesOf(runId), []);
    } finally {
      await run(["ip", "netns", "delete", `dnf${runId}-sw`]).catch(() => undefined);
      await run(["rm", "-f", join(LAB_STATE_DIR, `${runId}.json`)]);
    }
  });
});
