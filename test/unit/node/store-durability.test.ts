import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Store } from "../../../node/storage/index.js";
import type { VersionedRecord } from "../../../node/versioning/types.js";

const valueOf = (r: VersionedRecord | undefined) => r?.siblings[0]?.value?.toString();

describe("store durability", function () {
  let dir: string;
  beforeEach(function () {
    dir = mkdtempSync(join(tmpdir(), "dynamo-acked-"));
  });
  afterEach(function () {
    rmSync(dir, { recursive: true, force: true });
  });

  it("every acknowledged write survives the process being killed mid-stream, many in flight", async function () {
    this.timeout(120_000);
    const child = spawn(process.execPath, ["--import", "tsx", join(import.meta.dirname, "fixtures", "acked-writer.ts"), dir], { stdio: ["ignore", "pipe", "inherit"] });
    const acked: number[] = [];
    let buffered = "";
    const enough = new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (chunk: Buffer) => {
        buffered += chunk.toString();
        const lines = buffered.split("\n");
        buffered = lines.pop()!;
        for (const line of lines) if (/^\d+$/.test(line)) acked.push(Number(line));
        if (acked.length >= 2000) resolve();
      });
      child.on("exit", (code) => reject(new Error(`the writer exited with ${code} after ${acked.length} writes`)));
    });
    await enough;
    child.kill("SIGKILL");
    await new Promise((resolve) => child.once("close", resolve));
    const store = new Store(dir);
    await store.open();
    try {
      assert.ok(store.recovery.files >= 1, "the killed writer's write log is found and replayed");
      for (const n of acked) assert.equal(valueOf(await store.get(n % 16, "b", Buffer.from(`k${n}`))), `value ${n}`, `acknowledged write ${n} is lost`);
      // Each shared key holds a write at least as new as the newest acknowledged one of it.
      for (let s = 0; s < 8; s++) {
        const newestAcked = Math.max(...acked.filter((n) => n % 8 === s));
        const stored = Number(valueOf(await store.get(0, "b", Buffer.from(`shared-${s}`)))!.slice("value ".length));
        assert.ok(stored >= newestAcked, `shared-${s} holds ${stored}, older than the acknowledged ${newestAcked}`);
      }
    } finally {
      await store.close();
    }
  });
});
