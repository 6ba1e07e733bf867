/**
 * The fuzzing harness: runs a target's attacks against a real cluster and checks what must hold whatever was sent.
 *
 * A target is one module exporting a `FuzzTarget`: an fast-check arbitrary of attacks, a way to carry one out, and a
 * one-line description of an attack for reports. The harness draws attacks in chunks of `CHUNK_SIZE`, chunk n from
 * seed + n, so a seed replays the same sequence however long the run, and round r alone replays with `round: r`.
 * While attacks run, a reader keeps reading a set of sentinel keys through the client port. Properties, for every
 * target:
 *
 * - no node process dies;
 * - the sentinel keys keep their values, and reading them fails with nothing but 503 (overload is allowed, errors
 *   are not);
 * - each node's resident memory grows by less than a bound over the campaign;
 * - whatever the target checks itself (each reply well formed, no 5xx but 503, ...), reported as findings.
 *
 * A campaign stops at the first finding, so the report names the round that caused it.
 */
import fc from "fast-check";
import { readFileSync } from "node:fs";
import type { ClientTlsOptions } from "../../node/tls/index.js";
import { http, kvUrl, type RawReply } from "../helpers/http.js";

export const CHUNK_SIZE = 100;

/** The cluster under attack, and how to reach it. */
export interface FuzzCluster {
  clientUrls: string[];
  peerUrls: string[];
  pids: number[];
  /** The cluster (peer) token. */
  token: string;
  /** The peer ports' client certificate and CA. */
  peerTls: ClientTlsOptions;
  /** For a client port with TLS, the CA to trust; with client tokens, a token allowed everything. */
  client: { ca?: Buffer; token?: string };
}

export interface AttackOutcome {
  /** Requests (or connections, for raw bytes) the attack sent. */
  requests: number;
  /** What went wrong, each in one line; empty when the target saw nothing amiss. */
  findings: string[];
  /** Counters the target keeps (replies by kind, statuses), summed over the campaign. */
  counts?: Record<string, number>;
}

export interface FuzzTarget<A> {
  name: string;
  attack: fc.Arbitrary<A>;
  /** One line saying what the attack sends, short enough for a report. */
  describe(attack: A): string;
  /** Carries out one attack; `round` tells it apart from the others (for key names, logs). */
  execute(attack: A, cluster: FuzzCluster, round: number): Promise<AttackOutcome>;
  /** Runs once before the first attack (seed data the attacks may use). */
  prepare?(cluster: FuzzCluster): Promise<void>;
}

export interface FuzzOptions {
  seed: number;
  seconds: number;
  /** Carry out only this round of the seed's sequence (a replay of one finding). */
  round?: number;
  /** How much each node's RSS may grow over the campaign. */
  rssGrowthMaxBytes?: number;
  log: (line: string) => void;
}

export interface FuzzReport {
  target: string;
  seed: number;
  rounds: number;
  requests: number;
  counts: Record<string, number>;
  clientChecks: number;
  findings: string[];
  rssBytes: { before: number[]; after: number[] };
}

export const DEFAULT_RSS_GROWTH_MAX_BYTES = 256 * 1024 * 1024;

/** Keys in bucket `default` that no attack may change; targets keep their writes away from the `sentinel-` prefix. */
export const SENTINELS = Array.from({ length: 8 }, (_, i) => [`sentinel-${i}`, `value-${i}-${"s".repeat(i * 10)}`] as const);
export const SENTINEL_PREFIX = "sentinel-";

/** The attacks of `seed`'s sequence, drawn a chunk at a time: round r is the same attack in every run of the seed. */
class AttackSequence<A> {
  private index = -1;
  private chunk: A[] = [];

  constructor(
    private readonly target: FuzzTarget<A>,
    private readonly seed: number,
  ) {}

  at(round: number): A {
    const index = Math.floor(round / CHUNK_SIZE);
    if (index !== this.index) {
      this.chunk = fc.sample(this.target.attack, { seed: this.seed + index, numRuns: CHUNK_SIZE });
      this.index = index;
    }
    return this.chunk[round % CHUNK_SIZE]!;
  }
}

export async function runFuzz<A>(target: FuzzTarget<A>, cluster: FuzzCluster, options: FuzzOptions): Promise<FuzzReport> {
  const findings: string[] = [];
  const counts: Record<string, number> = {};
  const before = cluster.pids.map(rssOf);
  await target.prepare?.(cluster);
  const deadline = Date.now() + options.seconds * 1000;
  let requests = 0;
  let rounds = 0;
  let clientChecks = 0;
  let stop = false;
  const reader = (async () => {
    while (!stop) {
      clientChecks += await checkSentinels(cluster, findings, false);
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  const sequence = new AttackSequence(target, options.seed);
  try {
    const first = options.round ?? 0;
    for (let round = first; options.round === undefined ? Date.now() < deadline : round === first; round++) {
      const attack = sequence.at(round);
      rounds += 1;
      const t0 = Date.now();
      const outcome = await target.execute(attack, cluster, round).catch((err: Error) => ({ requests: 0, findings: [`the attack itself failed: ${err.stack ?? err.message}`], counts: undefined }));
      if (process.env.FUZZ_DEBUG && Date.now() - t0 > 500) options.log(`  slow round ${round} ${Date.now() - t0} ms: ${target.describe(attack)}`);
      requests += outcome.requests;
      for (const [name, n] of Object.entries(outcome.counts ?? {})) counts[name] = (counts[name] ?? 0) + n;
      const dead = cluster.pids.filter((pid) => !alive(pid));
      if (dead.length > 0) outcome.findings.push(`node processes ${dead.join(", ")} died`);
      for (const f of outcome.findings) findings.push(`round ${round} (${target.describe(attack)}): ${f}`);
      if (findings.length > 0) break;
      if (rounds % 100 === 0) options.log(`  ${target.name} round ${round}: ${requests} requests ${JSON.stringify(counts)}`);
    }
  } finally {
    stop = true;
    await reader;
  }
  const after = cluster.pids.map((pid) => (alive(pid) ? rssOf(pid) : 0));
  clientChecks += await checkSentinels(cluster, findings, true);
  const growthMax = options.rssGrowthMaxBytes ?? DEFAULT_RSS_GROWTH_MAX_BYTES;
  after.forEach((rss, i) => {
    if (rss - before[i]! > growthMax) findings.push(`node ${i} RSS grew from ${mib(before[i]!)} to ${mib(rss)} MiB, more than ${mib(growthMax)} MiB`);
  });
  return { target: target.name, seed: options.seed, rounds, requests, counts, clientChecks, findings, rssBytes: { before, after } };
}

/** A report in one line, with how to replay it. */
export function summarize(report: FuzzReport): string {
  const rss = `${report.rssBytes.before.map(mib).join("/")} -> ${report.rssBytes.after.map(mib).join("/")} MiB`;
  return (
    `${report.target} fuzz: seed ${report.seed}, ${report.rounds} rounds, ${report.requests} requests ${JSON.stringify(report.counts)}, ` +
    `${report.clientChecks} sentinel reads, RSS ${rss}, ${report.findings.length} findings (replay: npm run test:fuzz -- --target ${report.target} --seed ${report.seed})`
  );
}

/** Writes the sentinel keys; the campaign checks they still read back unchanged. */
export async function writeSentinels(cluster: FuzzCluster): Promise<void> {
  for (const [key, value] of SENTINELS) {
    const reply = await clientHttp(cluster, "PUT", kvUrl(cluster.clientUrls[0]!, "default", key), value);
    if (reply.status !== 204) throw new Error(`could not write sentinel ${key}: ${reply.status} ${reply.text()}`);
  }
}

/** A request to the client port as a legitimate client makes it: with the cluster's CA and a token, when they are on. */
export function clientHttp(cluster: FuzzCluster, method: string, url: string, body?: string | Buffer): Promise<RawReply> {
  const headers = cluster.client.token ? { Authorization: `Bearer ${cluster.client.token}` } : undefined;
  return http(method, url, { body, headers, tls: cluster.client.ca ? { ca: cluster.client.ca } : undefined });
}

async function checkSentinels(cluster: FuzzCluster, findings: string[], strict: boolean): Promise<number> {
  let checks = 0;
  for (const [i, [key, value]] of SENTINELS.entries()) {
    const url = kvUrl(cluster.clientUrls[i % cluster.clientUrls.length]!, "default", key);
    const reply = await clientHttp(cluster, "GET", url).catch((err: Error) => ({ status: 0, text: () => err.message }));
    checks += 1;
    if (reply.status === 200 && reply.text() === value) continue;
    if (reply.status === 503 && !strict) continue;
    findings.push(`sentinel ${key} read ${reply.status}: ${reply.text().slice(0, 200)}`);
  }
  return checks;
}

export function rssOf(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function mib(bytes: number): number {
  return Math.round(bytes / 1048576);
}
