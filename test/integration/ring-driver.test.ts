/**
 * The RingDriver is stateless between steps: a driver process killed in the middle of a ring change, and a new one
 * started in its place, finish the same change with nothing lost and no plan started over. Nodes here run without
 * the dev supervisor, each on a loopback address of its own, the way pods do.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { DynamoClient } from "../../client/index.js";
import { partitionsPerMember } from "../../node/ring/index.js";
import type { Ring } from "../../node/ring/types.js";
import { REPO_ROOT } from "../helpers/dev-cluster.js";
import { Fleet } from "../helpers/fleet.js";
import { readAsking, retry, valuesOf } from "../helpers/replicas.js";

const CONFIG = join(REPO_ROOT, "test", "integration", "fixtures", "handoff.yaml");
const DRIVE = join(REPO_ROOT, "test", "helpers", "drive.ts");
const PARTITIONS = 32;

interface DriveLine {
  epoch: number;
  done: boolean;
  action?: string;
  transfers: { pending: number; active: number; done: number };
}

function startDriver(fleet: Fleet, desired: number[]) {
  const args = ["--import", "tsx", DRIVE, fleet.token, fleet.clientTlsDir, String(PARTITIONS), "3", desired.map((i) => `node-${i}`).join(",")];
  for (const a of fleet.addresses(desired)) args.push(`${a.id}=${a.peerUrl}=${a.clientUrl}`);
  const child = spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "inherit"] });
  const lines: DriveLine[] = [];
  let buffer = "";
  child.stdout!.on("data", (d: Buffer) => {
    buffer += d.toString();
    let nl;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      lines.push(JSON.parse(buffer.slice(0, nl)) as DriveLine);
      buffer = buffer.slice(nl + 1);
    }
  });
  return { child, lines, exited: once(child, "exit") };
}

/** Waits for a driver to settle; one that has not within `ms` is killed and the failure shows where it stood. */
async function settled(driver: ReturnType<typeof startDriver>, what: string, ms = 90_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), ms)));
  const outcome = await Promise.race([driver.exited, late]);
  clearTimeout(timer);
  if (outcome !== "late") return;
  driver.child.kill("SIGKILL");
  await driver.exited;
  assert.fail(`${what} had not settled the ring after ${ms} ms; its last steps: ${driver.lines.slice(-3).map((l) => JSON.stringify(l)).join(" ")}`);
}

async function ringOf(fleet: Fleet, index: number): Promise<Ring> {
  const ring = await (await fleet.admin()).ring(fleet.describe(index).peerUrl);
  assert.ok(ring, `node-${index} has a ring`);
  return ring;
}

describe("RingDriver restarts", function () {
  this.timeout(180_000);
  let fleet: Fleet;

  afterEach(async function () {
    await fleet?.destroy();
  });

  it("a driver killed mid-transfer is replaced by a new one that finishes the same plan, nothing lost", async function () {
    fleet = new Fleet(41, CONFIG);
    for (const i of [0, 1, 2]) await fleet.start(i);
    const first = startDriver(fleet, [0, 1, 2]);
    await settled(first, "the first driver");
    assert.ok(first.lines.at(-1)?.done, "the initial ring settles");

    const client = new DynamoClient(fleet.addresses([0, 1, 2]).map((a) => a.clientUrl));
    const value = "y".repeat(1000);
    // Beside the Kubernetes suite in CI a replica can miss the fixtures' 1.5 s peer timeout, so a write is sent again
    // as a client would. A blind write that reached one replica before it was sent again leaves two siblings of the
    // same value; the reads below accept that, and nothing else.
    for (let i = 0; i < 1500; i += 25) {
      await Promise.all(Array.from({ length: 25 }, (_, j) => retry(() => client.put("sets", `k${i + j}`, `${i + j}:${value}`))));
    }

    await fleet.start(3);
    const second = startDriver(fleet, [0, 1, 2, 3]);
    const deadline = Date.now() + 30_000;
    while (!second.lines.some((l) => l.transfers.done > 0 && l.transfers.pending > 0) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    second.child.kill("SIGKILL");
    await second.exited;
    const planned = second.lines.find((l) => l.action?.includes("planned"));
    assert.ok(planned, "the killed driver had committed a plan");
    assert.ok(!second.lines.some((l) => l.action?.includes("finalized")), "the killed driver had not finalized it");

    const thirdStarted = Date.now();
    const third = startDriver(fleet, [0, 1, 2, 3]);
    await settled(third, "the new driver");
    console.log(`    the new driver settled the ring in ${Date.now() - thirdStarted} ms`);
    assert.ok(third.lines.at(-1)?.done, "the new driver settles the ring");
    assert.ok(!third.lines.some((l) => l.action?.includes("planned") || l.action?.includes("re-planned")), "the new driver continued the plan instead of starting over");
    assert.ok(third.lines.some((l) => l.action?.includes("finalized")));

    const ring = await ringOf(fleet, 3);
    assert.equal(ring.epoch, planned!.epoch + 1, "exactly one epoch (the finalize) after the plan");
    const counts = Object.values(partitionsPerMember(ring.owners));
    assert.deepEqual(counts.sort(), [8, 8, 8, 8]);
    // Every replica must hold every key, so reads ask all three (asking again while a replica is slow to answer), 25 at
    // a time as the writes were: one at a time they took over a minute beside the Kubernetes suite in CI.
    const missing: string[] = [];
    const readsStarted = Date.now();
    for (let i = 0; i < 1500; i += 25) {
      await Promise.all(
        Array.from({ length: 25 }, async (_, j) => {
          const got = await readAsking(client, "sets", `k${i + j}`, 3);
          if (typeof got === "string") missing.push(`k${i + j} (${got})`);
          else if (got.kind === "not_found" || valuesOf(got).some((v) => v !== `${i + j}:${value}`)) missing.push(`k${i + j}`);
        }),
      );
    }
    client.close();
    console.log(`    1500 reads at r=3 in ${Date.now() - readsStarted} ms`);
    assert.deepEqual(missing.slice(0, 10), []);
  });
});
