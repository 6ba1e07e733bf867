/**
 * Per-replica inspection for tests: which nodes replicate a key under the cluster's current ring, and whether each
 * of them holds a given value in its own copy (read through the admin API, without any quorum).
 */
import { DynamoClientError, type DynamoClient } from "../../client/index.js";
import { partitionOf, preferenceList } from "../../node/ring/index.js";
import type { Ring } from "../../node/ring/types.js";
import type { TestCluster } from "./dev-cluster.js";
import { pool } from "./pool.js";

export async function currentRing(cluster: TestCluster, via = 0): Promise<Ring> {
  return cluster.ring(via);
}

export function replicasOf(ring: Ring, bucket: string, key: string, n: number): readonly string[] {
  return preferenceList(ring, partitionOf(bucket, Buffer.from(key), ring.partitions), n);
}

/** Values (decoded as UTF-8) of the live siblings in node `index`'s own copy of a key. */
export async function localValues(cluster: TestCluster, index: number, bucket: string, key: string): Promise<string[]> {
  const record = await cluster.localRecord(index, bucket, key);
  if (!record.found) return [];
  return record.siblings.filter((s) => !s.deleted && s.value !== null).map((s) => Buffer.from(s.value!, "base64").toString("utf8"));
}

/** Polls `check` until it returns an empty list of problems or the deadline passes; returns the last problems. */
export async function eventually(check: () => Promise<string[]>, timeoutMs: number, intervalMs = 500): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  let problems = await check();
  while (problems.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, intervalMs));
    problems = await check();
  }
  return problems;
}

/** Retries a request a few times, 200 ms more apart each time: one timeout on a busy machine says nothing of the data. */
export async function retry<T>(op: () => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await op();
    } catch (err) {
      if (attempt >= attempts) throw err;
      await new Promise((r) => setTimeout(r, 200 * attempt));
    }
  }
}

/** A read's values, sorted; none for a key not found. */
export function valuesOf(got: Awaited<ReturnType<DynamoClient["get"]>>): string[] {
  const values = got.kind === "value" ? [got.value.toString()] : got.kind === "siblings" ? got.siblings.map((s) => s.value.toString()) : [];
  return values.sort();
}

/**
 * Writes every key's value, `inFlight` at a time, sending a write again (see `retry`) when it fails: beside the
 * Kubernetes suite in CI a replica can miss the fixtures' peer timeout, and a client would send the write again. A
 * blind write that reached a replica before it was sent again leaves two siblings of the same value; `holds` accepts
 * that, and nothing else.
 */
export async function writeAll(client: DynamoClient, bucket: string, entries: ReadonlyMap<string, string>, inFlight = 25): Promise<void> {
  await pool([...entries], inFlight, async ([key, value]) => {
    await retry(() => client.put(bucket, key, value));
  });
}

/** Whether a read found `expected` and nothing else: one value, or siblings that all hold it (a write sent twice). */
export function holds(got: Awaited<ReturnType<DynamoClient["get"]>>, expected: string): boolean {
  const values = valuesOf(got);
  return values.length > 0 && values.every((v) => v === expected);
}

/** The errors a read is asked again after: the node or its replicas were too slow or out of reach, not the data wrong. */
const ASK_AGAIN = new Set(["unavailable", "timeout", "network_error"]);

/**
 * Reads a key at read quorum `r`, asking again (five tries, half a second more apart each time) while the read is
 * unavailable or times out: right after a ring change or a restart a replica can be slow to answer on a loaded machine
 * (the fixtures' peer timeout is 1.5 s, and beside the Kubernetes suite in CI a node's event loop can stall for longer),
 * and that is not a lost write. Returns the read, or the last error's message when every try failed that way; any other
 * error is thrown.
 */
export async function readAsking(client: DynamoClient, bucket: string, key: string, r: number): Promise<Awaited<ReturnType<DynamoClient["get"]>> | string> {
  let lastError = "";
  for (let attempt = 1; attempt <= 5; attempt++) {
    try {
      return await client.get(bucket, key, { r });
    } catch (err) {
      if (!(err instanceof DynamoClientError) || !ASK_AGAIN.has(err.code)) throw err;
      lastError = err.message;
      await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
    }
  }
  return lastError;
}

export async function metricSum(urls: string[], name: string): Promise<number> {
  let sum = 0;
  for (const url of urls) {
    const text = await (await fetch(`${url}/metrics`)).text();
    for (const line of text.split("\n")) {
      if (line.startsWith(name + " ") || line.startsWith(name + "{")) sum += Number(line.slice(line.lastIndexOf(" ") + 1));
    }
  }
  return sum;
}
