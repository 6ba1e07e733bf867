/**
 * Rebuilding a node that lost its disk. A node whose incarnation differs from the one its ring names came back with
 * an empty data directory: for each partition it replicates it streams every record from another replica and merges
 * it in. Until a partition is rebuilt the node still accepts writes for it, but its answers to reads do not count
 * towards a read quorum, so it never answers "not found" for data that exists. Progress (the partitions left and a
 * cursor in the current one) is persisted, so a restart resumes where it stopped.
 */
import { preferenceList } from "../ring/index.js";
import type { Ring } from "../ring/types.js";
import { streamPartition, type ReplicaAccess } from "./partition-stream.js";

interface RebuildState {
  incarnation: string;
  pending: number[];
  cursor?: { partition: number; bucket: string; key: string };
}

export interface RebuildDeps extends ReplicaAccess {
  batchMax: number;
  /** Waits until a page of this many bytes may be merged (the node's streaming pace). */
  pace?: (bytes: number) => Promise<void>;
  /** The bytes a page should hold now (see PartitionStreamOptions.pageBytes). */
  pageBytes?: () => number;
  onProgress: (keys: number, bytes: number) => void;
  log: (message: string) => void;
}

export class Rebuilder {
  private state: RebuildState | undefined;
  private pendingSet = new Set<number>();
  private running: Promise<void> | undefined;
  private stopped = false;
  /** The last page received, which sizes the next partition's first page. */
  private readonly lastPage = { records: 0, bytes: 0 };

  constructor(private readonly deps: RebuildDeps) {}

  async load(): Promise<void> {
    const raw = await this.deps.store.getMeta("rebuild");
    if (!raw) return;
    const state = JSON.parse(raw.toString("utf8")) as RebuildState;
    if (state.incarnation !== this.deps.store.incarnation) return;
    this.setState(state);
  }

  isRebuilding(partition: number): boolean {
    return this.pendingSet.has(partition);
  }

  /** "running" while partitions are left, "done" once this incarnation has rebuilt everything, else "none". */
  status(): "none" | "running" | "done" {
    if (!this.state || this.state.incarnation !== this.deps.store.incarnation) return "none";
    return this.state.pending.length > 0 ? "running" : "done";
  }

  get pendingPartitions(): number {
    return this.pendingSet.size;
  }

  /** Called with every installed ring: starts a rebuild when the ring shows this node lost its disk. */
  async onRing(ring: Ring): Promise<void> {
    const me = ring.members[this.deps.cluster.self];
    if (!me || me.incarnation === this.deps.store.incarnation) return;
    if (this.state?.incarnation === this.deps.store.incarnation) {
      this.kick();
      return;
    }
    const pending: number[] = [];
    for (let p = 0; p < ring.partitions; p++) if (preferenceList(ring, p, this.deps.targetN).includes(this.deps.cluster.self)) pending.push(p);
    await this.persist({ incarnation: this.deps.store.incarnation, pending });
    this.deps.log(`this node is a new incarnation (${this.deps.store.incarnation}, ring expects ${me.incarnation}): rebuilding ${pending.length} partitions from other replicas`);
    this.kick();
  }

  kick(): void {
    if (this.running || this.stopped || this.pendingSet.size === 0) return;
    this.running = this.loop().finally(() => (this.running = undefined));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
  }

  private async loop(): Promise<void> {
    while (!this.stopped && this.state && this.state.pending.length > 0) {
      const partition = this.state.pending[0]!;
      const ok = await this.rebuildPartition(partition).catch((err: Error) => {
        this.deps.log(`rebuild of partition ${partition} paused: ${err.message}`);
        return false;
      });
      if (!ok) {
        // No source was reachable; try again shortly rather than spinning.
        await new Promise((r) => setTimeout(r, 1000).unref());
        continue;
      }
      const pending = this.state.pending.filter((p) => p !== partition);
      await this.persist({ incarnation: this.state.incarnation, pending });
      if (pending.length === 0) this.deps.log("rebuild complete: every partition this node replicates is back");
    }
  }

  private async rebuildPartition(partition: number): Promise<boolean> {
    const ring = this.deps.cluster.ring();
    if (!ring) return false;
    const sources = preferenceList(ring, partition, this.deps.targetN).filter((id) => id !== this.deps.cluster.self && this.deps.cluster.isUp(id));
    const client = sources.map((id) => this.deps.cluster.peer(id)).find((c) => c !== undefined);
    if (!client) return false;
    const saved = this.state?.cursor?.partition === partition ? this.state.cursor : undefined;
    return streamPartition(client, {
      partition,
      cursor: saved ? { b: saved.bucket, k: saved.key } : undefined,
      batchMax: this.deps.batchMax,
      mergePage: (entries) => this.deps.mergePage(partition, entries),
      beforeMerge: this.deps.pace,
      pageBytes: this.deps.pageBytes,
      lastPage: this.lastPage,
      onPage: async (keys, bytes, cursor) => {
        this.deps.onProgress(keys, bytes);
        if (cursor) await this.persist({ ...this.state!, cursor: { partition, bucket: cursor.b, key: cursor.k } });
      },
      shouldStop: () => this.stopped,
    });
  }

  private async persist(state: RebuildState): Promise<void> {
    await this.deps.store.putMeta("rebuild", Buffer.from(JSON.stringify(state)));
    this.setState(state);
  }

  private setState(state: RebuildState): void {
    this.state = state;
    this.pendingSet = new Set(state.pending);
  }
}
