/**
 * `npm run test:flood -- [--writers 100] [--rounds 3] [--value-bytes 1048576] [--budget BYTES]`: the memory abuse run.
 * Starts a local 3-node cluster, then has `--writers` clients PUT a `--value-bytes` value to one node at the same
 * time, `--rounds` times, and reports that node's resident memory before, at its peak (sampled every 20 ms), and 5 and
 * 30 seconds after, with the answers the writers got. `--budget` sets tuning.clientBodyBudgetBytes (the node-wide
 * bound on request bodies in memory) to compare against the default.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { TestCluster } from "../helpers/dev-cluster.js";
import { http, kvUrl } from "../helpers/http.js";
import { rssOf } from "./harness.js";

const MB = 1024 * 1024;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { writers: { type: "string" }, rounds: { type: "string" }, "value-bytes": { type: "string" }, budget: { type: "string" } },
    strict: true,
  });
  const writers = Number(values.writers ?? 100);
  const rounds = Number(values.rounds ?? 3);
  const valueBytes = Number(values["value-bytes"] ?? MB);
  const dir = mkdtempSync(join(tmpdir(), "dynamo-test-flood-"));
  const config = join(dir, "config.yaml");
  writeFileSync(config, values.budget ? `tuning:\n  clientBodyBudgetBytes: ${Number(values.budget)}\n` : "{}\n");
  const cluster = await TestCluster.start({ nodes: 3, partitions: 64, config });
  try {
    const node = cluster.nodes()[0]!;
    const url = node.clientUrl;
    await new Promise((r) => setTimeout(r, 1000));
    const before = rssOf(node.pid!);
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, rssOf(node.pid!))), 20);
    const value = Buffer.alloc(valueBytes, 7);
    for (let round = 0; round < rounds; round++) {
      const statuses = await Promise.all(
        Array.from({ length: writers }, (_, i) =>
          http("PUT", kvUrl(url, "default", `flood-${round}-${i}`), { body: value }).then(
            (r) => String(r.status),
            (err: Error) => (/timeout/.test(err.message) ? "client timeout" : "connection error"),
          ),
        ),
      );
      const counts: Record<string, number> = {};
      for (const s of statuses) counts[s] = (counts[s] ?? 0) + 1;
      console.log(`round ${round + 1}: ${writers} concurrent PUTs of ${valueBytes} bytes: ${JSON.stringify(counts)}`);
    }
    clearInterval(sampler);
    const settled: number[] = [];
    for (let s = 1; s <= 30; s++) {
      await new Promise((r) => setTimeout(r, 1000));
      settled.push(rssOf(node.pid!));
    }
    const mb = (n: number) => `${Math.round(n / MB)} MB`;
    console.log(
      `budget ${values.budget ? `${values.budget} bytes` : "default"}: RSS of ${node.id} before ${mb(before)}, peak ${mb(peak)}, ` +
        `5 s after ${mb(settled[4]!)}, 30 s after ${mb(settled[29]!)}`,
    );
  } finally {
    await cluster.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: Error) => {
  console.error(`flood: ${err.message}`);
  process.exit(1);
});
