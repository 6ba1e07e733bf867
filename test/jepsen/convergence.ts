/**
 * Convergence after healing: once every fault is healed and the clients have stopped, every replica of every key a
 * workload touched must come to hold the same version (the same clock and the same siblings, dot for dot), through
 * hint delivery, read repair and anti-entropy alone. The checker reads each replica's own copy through the admin API
 * (no quorum, no repair of its own) until all agree, and reports how long that took.
 */
import type { LocalRecord } from "../../node/protocol/index.js";
import { partitionOf, preferenceList } from "../../node/ring/index.js";
import type { Ring } from "../../node/ring/types.js";
import type { NetCluster } from "../netns/cluster.js";

export interface KeyRef {
  bucket: string;
  key: string;
}

export interface ConvergenceReport {
  keys: number;
  converged: boolean;
  /** From the call (just after healing) until every replica agreed; undefined if they never did within the bound. */
  ms: number | undefined;
  /** Keys whose replicas still differ at the deadline, with what each replica holds. */
  diverged: string[];
}

function fingerprint(copy: LocalRecord | undefined): string {
  if (!copy) return "unreachable";
  if (!copy.found) return "absent";
  const clock = Object.entries(copy.clock).sort(([a], [b]) => a.localeCompare(b));
  const dots = copy.siblings.map((s) => `${s.dot.actor}:${s.dot.counter}${s.deleted ? "x" : ""}`).sort();
  return JSON.stringify({ clock, dots });
}

/** Polls until every replica of every key agrees or `boundMs` passes. */
export async function awaitConvergence(cluster: NetCluster, keys: KeyRef[], n: number, boundMs: number): Promise<ConvergenceReport> {
  const started = performance.now();
  let diverged: string[] = [];
  while (performance.now() - started < boundMs) {
    diverged = await divergedKeys(cluster, keys, n);
    if (diverged.length === 0) return { keys: keys.length, converged: true, ms: Math.round(performance.now() - started), diverged: [] };
    await new Promise((r) => setTimeout(r, 500));
  }
  return { keys: keys.length, converged: false, ms: undefined, diverged: diverged.slice(0, 20) };
}

async function divergedKeys(cluster: NetCluster, keys: KeyRef[], n: number): Promise<string[]> {
  const ring = (await cluster.admin.ring(cluster.running()[0]!.peerUrl)) as Ring;
  const indexOf = new Map(cluster.nodes.map((node) => [node.id, node.index]));
  const diverged: string[] = [];
  for (const { bucket, key } of keys) {
    const replicas = preferenceList(ring, partitionOf(bucket, Buffer.from(key), ring.partitions), n);
    const prints = await Promise.all(
      replicas.map(async (id) => {
        const copy = await cluster.localRecord(indexOf.get(id)!, bucket, key).catch(() => undefined);
        return `${id}=${fingerprint(copy)}`;
      }),
    );
    if (new Set(prints.map((p) => p.slice(p.indexOf("=") + 1))).size > 1) diverged.push(`${bucket}/${key}: ${prints.join(" ")}`);
  }
  return diverged;
}
