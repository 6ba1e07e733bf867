/**
 * Active anti-entropy: replicas of a partition compare hash trees and repair the keys that differ, so replicas
 * converge even for keys nobody reads. One exchange runs per interval, covering one partition this node replicates
 * with one other live replica, round robin. Trees are built lazily from a LevelDB snapshot under the rate limiter,
 * kept current by folding every write in, and thrown away on a schedule so any drift is rebuilt from disk.
 */
import type { ClusterView } from "../cluster/index.js";
import { DynamoError } from "../errors/index.js";
import type { NodeMetrics } from "../metrics/index.js";
import type { PeerClient, PeerHandlers } from "../peer/index.js";
import { keyDigest, preferenceList } from "../ring/index.js";
import type { Store } from "../storage/index.js";
import type { VersionedRecord } from "../versioning/types.js";
import { HashTree, keyHash, versionHash, type KeyHash } from "./hash-tree.js";
import { PeriodicTask } from "../../lib/periodic-task.js";
import { RateLimiter } from "../../lib/rate-limiter.js";

export interface AntiEntropyDeps {
  store: Store;
  cluster: ClusterView;
  targetN: number;
  canVote: (partition: number) => boolean;
  /** Merges a version into the local replica; returns whether the local version changed. */
  merge: (partition: number, bucket: string, key: Buffer, record: VersionedRecord) => Promise<boolean>;
  intervalMs: number;
  keysPerSecond: number;
  rebuildIntervalMs: number;
  metrics: NodeMetrics;
  log: (message: string) => void;
}

/** Keys repaired per exchange at most; the rest waits for the next exchange of the partition. */
const KEYS_PER_EXCHANGE_MAX = 5000;
/** Changes buffered while a tree is being built; past this the tree is rebuilt instead. */
const PENDING_CHANGES_MAX = 50_000;

interface TreeState {
  tree: HashTree | undefined;
  building: Promise<HashTree> | undefined;
  /** Changes seen while building, folded in once the snapshot scan is done. */
  pending: KeyHash[] | undefined;
  builtAt: number;
}

export class AntiEntropy {
  private readonly trees = new Map<number, TreeState>();
  private readonly limiter: RateLimiter;
  private readonly loop: PeriodicTask;
  private cursor = 0;

  constructor(private readonly deps: AntiEntropyDeps) {
    this.limiter = new RateLimiter(deps.keysPerSecond);
    this.loop = new PeriodicTask({
      intervalMs: deps.intervalMs,
      round: () => this.exchangeNext(),
      onError: (err) => {
        deps.metrics.antiEntropyExchanges.inc({ outcome: "error" });
        deps.log(`anti-entropy exchange failed: ${err.message}`);
      },
    });
  }

  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** Forgets a partition's tree (its data was dropped). */
  forget(partition: number): void {
    this.trees.delete(partition);
  }

  /** Whether the partition has a tree (built or being built) that stored changes must be folded into. */
  tracks(partition: number): boolean {
    return this.trees.has(partition);
  }

  /** Folds a stored change into the partition's tree, if that tree exists. */
  recordChange(at: { partition: number; bucket: string; key: Buffer }, before: VersionedRecord | undefined, after: VersionedRecord | undefined): void {
    const state = this.trees.get(at.partition);
    if (!state) return;
    const digest = keyDigest(at.bucket, at.key);
    const hashes: KeyHash[] = [];
    if (before !== undefined) hashes.push(versionHash(digest, before));
    if (after !== undefined) hashes.push(versionHash(digest, after));
    if (state.pending) {
      if (state.pending.length + hashes.length > PENDING_CHANGES_MAX) this.trees.delete(at.partition);
      else state.pending.push(...hashes);
      return;
    }
    for (const h of hashes) state.tree?.fold(h);
  }

  peerHandlers(): Pick<PeerHandlers, "ae-leaves" | "ae-keys" | "ae-invalidate"> {
    return {
      "ae-leaves": async ({ header: { partition } }) => {
        if (!this.deps.canVote(partition)) throw new DynamoError("unavailable", `${this.deps.cluster.self} is rebuilding partition ${partition}`);
        const tree = await this.treeFor(partition);
        return { header: {}, body: Buffer.from(tree.leaves) };
      },
      "ae-invalidate": async ({ header: { partition } }) => {
        this.trees.delete(partition);
        return { header: {} };
      },
      "ae-keys": async ({ header }) => {
        const keys = await this.keysIn(header.partition, new Set(header.segments));
        return { header: {}, body: keys.map((k): [string, Buffer, string] => [k.bucket, k.key, k.hash]) };
      },
    };
  }

  /** One exchange of the next partition in turn; public so tests and tools can force one. */
  async exchangeNext(): Promise<void> {
    const ring = this.deps.cluster.ring();
    if (!ring || this.loop.isStopped) return;
    if (Date.now() - this.oldestTreeAt() > this.deps.rebuildIntervalMs) this.trees.clear();
    const mine: number[] = [];
    for (let p = 0; p < ring.partitions; p++) if (preferenceList(ring, p, this.deps.targetN).includes(this.deps.cluster.self)) mine.push(p);
    if (mine.length === 0) return;
    const partition = mine[this.cursor++ % mine.length]!;
    if (!this.deps.canVote(partition)) return;
    const others = preferenceList(ring, partition, this.deps.targetN).filter((id) => id !== this.deps.cluster.self && this.deps.cluster.isUp(id));
    if (others.length === 0) return;
    const peerId = others[Math.floor(Math.random() * others.length)]!;
    const client = this.deps.cluster.peer(peerId);
    if (client) await this.exchange(partition, peerId, client);
  }

  private async exchange(partition: number, peerId: string, client: PeerClient): Promise<void> {
    const local = await this.treeFor(partition);
    const remote = await client.call("ae-leaves", { header: { partition } }, 120_000);
    const segments = local.diff(remote.body);
    if (segments.length === 0) {
      this.deps.metrics.antiEntropyExchanges.inc({ outcome: "in_sync" });
      return;
    }
    const remoteKeys = await client.call("ae-keys", { header: { partition, segments } }, 120_000);
    const theirs = new Map<string, { bucket: string; key: Buffer; hash: string }>();
    for (const [bucket, key, hash] of remoteKeys.body) theirs.set(`${bucket}\u0000${key.toString("base64")}`, { bucket, key, hash });
    const differing = new Map<string, { bucket: string; key: Buffer }>();
    for (const mine of await this.keysIn(partition, new Set(segments))) {
      const id = `${mine.bucket}\u0000${mine.key.toString("base64")}`;
      const other = theirs.get(id);
      if (!other || other.hash !== mine.hash) differing.set(id, mine);
      theirs.delete(id);
    }
    for (const [id, other] of theirs) differing.set(id, other);
    let repaired = 0;
    for (const { bucket, key } of [...differing.values()].slice(0, KEYS_PER_EXCHANGE_MAX)) {
      if (await this.repairKey(partition, bucket, key, client)) repaired += 1;
    }
    if (repaired === 0) {
      // The trees disagreed but the data did not: a tree missed or double-counted a change, so both are rebuilt.
      this.trees.delete(partition);
      await client.call("ae-invalidate", { header: { partition } });
    }
    this.deps.metrics.antiEntropyExchanges.inc({ outcome: "repaired" });
    this.deps.metrics.antiEntropyKeysRepaired.inc(repaired);
    if (repaired > 0) this.deps.log(`anti-entropy repaired ${repaired} keys of partition ${partition} with ${peerId}`);
  }

  /** Brings both replicas of one key to the merge of their versions; returns whether either side changed. */
  private async repairKey(partition: number, bucket: string, key: Buffer, client: PeerClient): Promise<boolean> {
    const header = { partition, bucket, key };
    const res = await client.call("fetch", { header });
    if (!res.header.canVote) return false;
    const theirs = res.body;
    try {
      const changedHere = theirs ? await this.deps.merge(partition, bucket, key, theirs.record) : false;
      const merged = await this.deps.store.get(partition, bucket, key);
      if (!merged) return changedHere;
      const reply = await client.call("replicate", { header, body: merged });
      return changedHere || reply.header.changed;
    } catch (err) {
      // Versions whose merge would pass the record bound stay as they are until a client resolves the key.
      if (err instanceof DynamoError && err.code === "record_too_large") return false;
      throw err;
    }
  }

  private async keysIn(partition: number, segments: Set<number>): Promise<{ bucket: string; key: Buffer; hash: string }[]> {
    const out = [];
    let batch = 0;
    for await (const entry of this.deps.store.scanPartition(partition)) {
      if (++batch % 256 === 0) await this.limiter.take(256);
      const h = keyHash(entry.bucket, entry.key, entry.record);
      if (segments.has(h.segment)) out.push({ bucket: entry.bucket, key: entry.key, hash: h.hash.toString("hex") });
    }
    return out;
  }

  private async treeFor(partition: number): Promise<HashTree> {
    const state = this.trees.get(partition);
    if (state?.tree) return state.tree;
    if (state?.building) return state.building;
    const fresh: TreeState = { tree: undefined, building: undefined, pending: [], builtAt: Date.now() };
    this.trees.set(partition, fresh);
    fresh.building = this.build(partition, fresh);
    return fresh.building;
  }

  private async build(partition: number, state: TreeState): Promise<HashTree> {
    const stopTimer = this.deps.metrics.antiEntropyTreeBuild.startTimer();
    const tree = new HashTree();
    let batch = 0;
    try {
      // The iterator reads a snapshot; writes after it arrive through recordChange into `pending`.
      for await (const entry of this.deps.store.scanPartition(partition)) {
        if (++batch % 256 === 0) await this.limiter.take(256);
        tree.fold(keyHash(entry.bucket, entry.key, entry.record));
      }
    } catch (err) {
      this.trees.delete(partition);
      throw err;
    }
    for (const h of state.pending ?? []) tree.fold(h);
    state.pending = undefined;
    state.tree = tree;
    state.building = undefined;
    state.builtAt = Date.now();
    stopTimer();
    return tree;
  }

  private oldestTreeAt(): number {
    let oldest = Date.now();
    for (const state of this.trees.values()) if (state.tree) oldest = Math.min(oldest, state.builtAt);
    return oldest;
  }
}
