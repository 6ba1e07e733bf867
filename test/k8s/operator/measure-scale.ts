// A one-off measurement, run by hand (not part of the suite: it takes minutes): on a fresh local control plane with
// the operator, how long a DynamoCluster of 3 takes from being applied to Available (and Stable), and how long a
// 3 → 4 scale takes once the cluster holds 100k keys of 1 KiB. Everything uses the production defaults (256
// partitions, default tuning) unless flags say otherwise.
//
// It runs in a sandbox of its own, like the suite (root, and the images built first):
//
//   node --import tsx test/k8s/operator/measure-scale.ts [--keys 100000] [--value-bytes 1024] [--partitions 256] [--concurrency 128]
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { mochaHooks } from "../harness/fixture.js";
import { createNamespace, waitFor } from "../harness/index.js";
import { sandboxProgram } from "../harness/sandbox/program.js";
import { clusterClient, conditionTrue, createCluster, installCrd, readCluster, readyClientUrls, scaleTo, startOperator, waitStable } from "./helpers.js";

const { values } = parseArgs({
  options: {
    keys: { type: "string", default: "100000" },
    "value-bytes": { type: "string", default: "1024" },
    partitions: { type: "string", default: "256" },
    concurrency: { type: "string", default: "128" },
  },
});
const KEYS = Number(values.keys);
const VALUE_BYTES = Number(values["value-bytes"]);
const PARTITIONS = Number(values.partitions);
const CONCURRENCY = Number(values.concurrency);
const NAME = "kv";

// The fixture's root hooks start and stop the shared local cluster; mocha's `this` is only asked for a timeout.
const hookContext = { timeout: () => undefined };

async function writeKeys(ns: string, urls: string[]): Promise<{ ms: number; failed: number }> {
  const client = await clusterClient(ns, NAME, urls, { maxSockets: CONCURRENCY, timeoutMs: 30_000 });
  const value = Buffer.alloc(VALUE_BYTES, "v");
  let next = 0;
  let failed = 0;
  const started = Date.now();
  let lastReport = started;
  const worker = async () => {
    for (let i = next++; i < KEYS; i = next++) {
      try {
        await client.put("default", `key-${i}`, value);
      } catch {
        failed++;
      }
      if (Date.now() - lastReport > 10_000) {
        lastReport = Date.now();
        console.error(`  ... ${next} keys written`);
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  client.close();
  return { ms: Date.now() - started, failed };
}

async function sampleReadable(ns: string, urls: string[], count: number): Promise<number> {
  const client = await clusterClient(ns, NAME, urls);
  let missing = 0;
  for (let s = 0; s < count; s++) {
    const i = Math.floor((s * KEYS) / count);
    const got = await client.get("default", `key-${i}`, { r: 3 }).catch(() => undefined);
    if (got?.kind !== "value" || got.value.length !== VALUE_BYTES) missing++;
  }
  client.close();
  return missing;
}

async function main(): Promise<void> {
  await mochaHooks.beforeAll.call(hookContext);
  try {
    await installCrd();
    const ns = await createNamespace("measure");
    const operator = await startOperator(ns);

    const applied = Date.now();
    await createCluster(ns, NAME, { replicas: 3, partitions: PARTITIONS });
    await waitFor("Available", async () => (conditionTrue(await readCluster(ns, NAME), "Available") ? true : undefined), { timeoutMs: 300_000, intervalMs: 100 });
    const availableMs = Date.now() - applied;
    await waitStable(ns, NAME, 3);
    const stableMs = Date.now() - applied;
    console.log(`apply → Available (3 nodes, ${PARTITIONS} partitions): ${availableMs} ms; → Stable: ${stableMs} ms`);

    const urls = await readyClientUrls(ns, NAME);
    const written = await writeKeys(ns, urls);
    console.log(`wrote ${KEYS} keys of ${VALUE_BYTES} B at concurrency ${CONCURRENCY} in ${written.ms} ms (${Math.round((KEYS * 1000) / written.ms)}/s, ${written.failed} failed)`);

    const before = await readCluster(ns, NAME);
    const scaled = Date.now();
    await scaleTo(ns, NAME, 4);
    const planned = await waitFor(
      "the 3 → 4 plan",
      async () => {
        const c = await readCluster(ns, NAME);
        return (c.status?.ringEpoch ?? 0) > (before.status?.ringEpoch ?? 0) && (c.status?.transfers?.pending ?? 0) > 0 ? c : undefined;
      },
      { timeoutMs: 300_000, intervalMs: 100 },
    );
    const plannedMs = Date.now() - scaled;
    const cluster = await waitStable(ns, NAME, 4, { timeoutMs: 1_800_000 });
    const scaleMs = Date.now() - scaled;
    const counts = (cluster.status?.members ?? []).map((m) => `${m.id}=${m.partitions}`).join(", ");
    console.log(`3 → 4 with ${KEYS} keys: plan committed after ${plannedMs} ms (${planned.status?.transfers?.pending} transfers), Stable after ${scaleMs} ms (${counts})`);
    const missing = await sampleReadable(ns, await readyClientUrls(ns, NAME), 1000);
    console.log(`sampled 1000 keys at r=3 after the scale: ${missing} missing`);
    await operator.stop();
  } finally {
    await mochaHooks.afterAll.call(hookContext);
  }
}

await sandboxProgram({ entry: fileURLToPath(import.meta.url) }, async () => {
  await main();
  return 0;
});
