import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { cpuMsPerOperation, CpuWindow, parseProcStat, processTrees, readProcStats, ticksBetween, type ProcStat } from "../../../../bench/peers/cpu.js";

function stat(pid: number, ppid: number, ticks = 0): ProcStat {
  return { pid, ppid, pgrp: pid, utimeTicks: ticks, stimeTicks: 0 };
}

describe("bench:peers CPU accounting", function () {
  it("reads a /proc stat line whose command name has spaces and parentheses", function () {
    const line = "4242 (java (cassandra) 1) S 17 4242 4242 0 -1 4194560 9000 0 3 0 250 75 0 0 20 0 61 0 123 456 789";
    assert.deepEqual(parseProcStat(line), { pid: 4242, ppid: 17, pgrp: 4242, utimeTicks: 250, stimeTicks: 75 });
  });

  it("reads this process's own stat from /proc", function () {
    const self = readProcStats().find((s) => s.pid === process.pid);
    assert.ok(self, "this process is in /proc");
    assert.equal(self.ppid, process.ppid);
  });

  it("counts a root's descendants and nothing else", function () {
    const stats = [stat(1, 0), stat(10, 1), stat(11, 10), stat(12, 11), stat(20, 1), stat(21, 20), stat(30, 10)];
    const pids = processTrees(stats, [10, 99]).map((s) => s.pid).sort((a, b) => a - b);
    assert.deepEqual(pids, [10, 11, 12, 30]);
  });

  it("sums what each process gained, counting a new process from zero and never going negative", function () {
    const before = new Map([[10, 100], [11, 50], [12, 70]]);
    const after = new Map([[10, 160], [11, 50], [13, 5]]);
    // 10 gained 60, 11 nothing, 12 exited (its time is lost), 13 appeared with 5.
    assert.equal(ticksBetween(before, after), 65);
    assert.equal(ticksBetween(new Map([[10, 100]]), new Map([[10, 90]])), 0, "a reused pid with less time is not negative");
  });

  it("divides CPU by operations, with no figure when nothing completed", function () {
    assert.equal(cpuMsPerOperation(2, 4000), 0.5);
    assert.equal(cpuMsPerOperation(2, 0), undefined);
  });

  it("counts the CPU that a grandchild of a root burns inside the window", async function () {
    this.timeout(120_000);
    // The grandchild burns 400 ms of its own CPU time (not wall time, so machine load does not matter), says so, and
    // stays alive: the time of a process that exited is no longer in /proc.
    const grandchild =
      "const t=process.cpuUsage();for(;;){const u=process.cpuUsage(t);if(u.user+u.system>=400000)break;}" +
      "console.log('burned');setInterval(()=>{},1000);";
    const child = `require('child_process').spawn(process.execPath,['-e',${JSON.stringify(grandchild)}],{stdio:'inherit'});setInterval(()=>{},1000);`;
    const root = spawn(process.execPath, ["-e", child], { detached: true, stdio: ["ignore", "pipe", "inherit"] });
    try {
      const window = new CpuWindow(() => [root.pid!]);
      window.start();
      const [chunk] = (await once(root.stdout!, "data")) as [Buffer];
      assert.match(chunk.toString(), /burned/);
      window.end();
      assert.ok(window.result.serverCpuSeconds >= 0.35, `counted ${window.result.serverCpuSeconds} s of CPU`);
      assert.ok(window.result.driverCpuSeconds >= 0);
    } finally {
      process.kill(-root.pid!, "SIGKILL");
    }
  });
});
