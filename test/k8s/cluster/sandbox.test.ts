// The sandbox's promise, checked with a sandbox inside this one: when a run's launcher is SIGKILLed, nothing of the run
// survives. Its processes die with its PID namespace (setpriv's death signal kills unshare, whose --kill-child kills
// the sandbox's init); its mounts and network devices go with its namespaces (which no one else can enter, so there
// is nothing to look at from here); the cgroup tree and run directory it leaves are removed by the next run's sweep.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { cluster, waitFor } from "../harness/index.js";
import { cgroupMounts, isAlive } from "../harness/sandbox/cgroups.js";
import { sweepStaleRuns } from "../harness/sandbox/launcher.js";
import { SANDBOX_ENV } from "../harness/sandbox/sandbox-info.js";

const LAUNCHER = fileURLToPath(new URL("../harness/sandbox/launcher.ts", import.meta.url));

describe("the sandbox", () => {
  it("leaves no process, cgroup or run directory behind when its launcher is SIGKILLed", async function () {
    this.timeout(90_000);
    const marker = join(cluster().runDir, `nested-${Date.now()}`);
    // The nested run's command starts a long sleep and records the run's name, then waits: a stand-in for a cluster.
    const command = [
      process.execPath,
      "-e",
      `require("node:child_process").spawn("sleep", ["600"], { stdio: "ignore" });
       require("node:fs").writeFileSync(${JSON.stringify(marker)}, JSON.parse(process.env.${SANDBOX_ENV}).name);
       setInterval(() => {}, 1000);`,
    ];
    const script = `import { launchSandbox } from ${JSON.stringify(LAUNCHER)};
      await launchSandbox({ command: ${JSON.stringify(command)}, binDir: "/nonexistent", images: { dynamo: { reference: "none", archive: "none" }, system: [] } });`;
    const launcher = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { stdio: "ignore" });
    const name = await waitFor("the nested sandbox to start", () => (existsSync(marker) ? readFileSync(marker, "utf8").trim() || undefined : undefined), {
      timeoutMs: 60_000,
    });
    assert.match(name, /^dynamo-k8s-run-\d+-\d+-[0-9a-f]+$/);
    const sleeps = () => readdirSync("/proc").filter((p) => /^\d+$/.test(p) && commandLine(p).startsWith("sleep\u0000600"));
    assert.ok(sleeps().length > 0, "the nested run's process is alive");
    const cgroupDirs = () => cgroupMounts().filter((m) => existsSync(join(m.path, name)));
    assert.ok(cgroupDirs().length > 0, "the nested run has its cgroup root");

    launcher.kill("SIGKILL");
    await waitFor("every process of the nested run to be gone", () => sleeps().length === 0 && launcher.pid !== undefined && !isAlive(launcher.pid), {
      timeoutMs: 20_000,
    });
    assert.ok(cgroupDirs().length > 0, "a killed launcher cannot remove its cgroups: that is the sweep's job");
    sweepStaleRuns();
    assert.deepEqual(cgroupDirs(), [], "the next run's sweep removed the cgroup tree");
    assert.equal(existsSync(join(tmpdir(), name)), false, "and the run directory");
  });
});

/** A process's command line, or "" when it exited between the listing of /proc and this read. */
function commandLine(pid: string): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8");
  } catch {
    return "";
  }
}
