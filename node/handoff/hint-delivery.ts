/**
 * Delivers hints: on a fixed schedule, for every owner that is up again, sends it the current version of each hinted
 * key (a bounded batch per round, a bounded number in flight), and deletes each marker once the owner acknowledged.
 * A key this node holds only as a stand-in (it is not one of the partition's replicas) is dropped once no marker
 * points at it any more; the actor is renewed first, as for every discard of data this node may have written.
 */
import type { ClusterView } from "../cluster/index.js";
import { DynamoError } from "../errors/index.js";
import type { Store } from "../storage/index.js";
import type { PeerClient } from "../peer/index.js";
import { preferenceList } from "../ring/index.js";
import type { HintRef, HintStore } from "./hint-store.js";
import { PeriodicTask } from "../../lib/periodic-task.js";

export interface HintDeliveryDeps {
  store: Store;
  hints: HintStore;
  cluster: ClusterView;
  /** True when this node is one of the partition's replicas in the current ring (then it keeps its copy). */
  isReplica: (partition: number) => boolean;
  /** Replicas per partition (the largest bucket n): hints for a member that left go to the partition's current ones. */
  targetN: number;
  intervalMs: number;
  batchMax: number;
  concurrencyMax: number;
  onDelivered: (count: number) => void;
  /** A hint given up because its owner refused the record for good. */
  onDropped: (ref: HintRef, reason: string) => void;
  log: (message: string) => void;
}

export class HintDelivery {
  private readonly loop: PeriodicTask<number>;

  constructor(private readonly deps: HintDeliveryDeps) {
    this.loop = new PeriodicTask({ intervalMs: deps.intervalMs, round: () => this.round(), onError: (err) => this.failed(err) });
  }

  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** One delivery round now; resolves with the hints delivered (0 when the round failed, which is logged). */
  runOnce(): Promise<number> {
    return this.loop.runOnce().catch((err: Error) => {
      this.failed(err);
      return 0;
    });
  }

  private failed(err: Error): void {
    this.deps.log(`hint delivery failed: ${err.message}`);
  }

  private async round(): Promise<number> {
    let delivered = 0;
    for (const owner of this.deps.hints.owners()) {
      if (this.deps.cluster.ring()?.members[owner] === undefined) {
        delivered += await this.redirect(owner);
        continue;
      }
      const client = this.deps.cluster.peer(owner);
      if (!client || !this.deps.cluster.isUp(owner)) continue;
      const refs = await this.deps.hints.list(owner, this.deps.batchMax);
      const done = await this.deliver(client, refs);
      delivered += done.length;
      await this.dropStandIns(done);
      if (done.length > 0) this.deps.log(`delivered ${done.length} hints to ${owner} (${this.deps.hints.stats().byOwner[owner]?.count ?? 0} left)`);
    }
    if (delivered > 0) this.deps.onDelivered(delivered);
    return delivered;
  }

  /** The partition's current replicas, other than this node. */
  private replicasOf(partition: number): string[] {
    const ring = this.deps.cluster.ring();
    return ring ? preferenceList(ring, partition, this.deps.targetN).filter((id) => id !== this.deps.cluster.self) : [];
  }

  /**
   * Hints for a member that has left the ring: the write it missed goes to the partition's current replicas instead
   * (the member's data was handed off without it), and the hint is then done.
   */
  private async redirect(owner: string): Promise<number> {
    const refs = await this.deps.hints.list(owner, this.deps.batchMax);
    const done: HintRef[] = [];
    for (const ref of refs) {
      const record = await this.deps.store.get(ref.partition, ref.bucket, ref.key);
      if (record) {
        const targets = this.replicasOf(ref.partition).filter((id) => this.deps.cluster.isUp(id));
        const clients = targets.map((id) => this.deps.cluster.peer(id)).filter((c): c is PeerClient => c !== undefined);
        if (clients.length === 0) break;
        const header = { partition: ref.partition, bucket: ref.bucket, key: ref.key };
        const results = await Promise.allSettled(clients.map((c) => c.call("replicate", { header, body: record })));
        const failed = results.filter((r) => r.status === "rejected").map((r) => r.reason as unknown);
        if (failed.some((err) => !refusedForGood(err))) break;
        if (failed.length > 0) {
          // As in `deliver`: the marker goes, the copy stays.
          this.deps.onDropped(ref, (failed[0] as Error).message);
          await this.deps.hints.remove(ref);
          continue;
        }
      }
      await this.deps.hints.remove(ref);
      done.push(ref);
    }
    await this.dropStandIns(done);
    if (done.length > 0) this.deps.log(`${owner} left the ring: sent ${done.length} of its hinted writes to the partitions' current replicas`);
    return done.length;
  }

  private async deliver(client: PeerClient, refs: HintRef[]): Promise<HintRef[]> {
    const done: HintRef[] = [];
    let failed = false;
    let next = 0;
    const worker = async () => {
      while (!failed && next < refs.length) {
        const ref = refs[next++]!;
        const record = await this.deps.store.get(ref.partition, ref.bucket, ref.key);
        if (record) {
          try {
            await client.call("replicate", { header: { partition: ref.partition, bucket: ref.bucket, key: ref.key }, body: record });
          } catch (err) {
            if (refusedForGood(err)) {
              // Resending would be refused the same way forever; the owner keeps its version until a client resolves
              // the key. The marker goes, but this copy stays (it is not passed on as delivered), so nothing is lost.
              this.deps.onDropped(ref, (err as Error).message);
              await this.deps.hints.remove(ref);
              continue;
            } else {
              // The owner went away again; the rest waits for the next round.
              failed = true;
              return;
            }
          }
        }
        await this.deps.hints.remove(ref);
        done.push(ref);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.deps.concurrencyMax, refs.length) }, worker));
    return done;
  }

  private async dropStandIns(delivered: HintRef[]): Promise<void> {
    const candidates = [];
    for (const ref of delivered) {
      if (this.deps.isReplica(ref.partition)) continue;
      if (await this.deps.hints.anyFor(ref.partition, ref.bucket, ref.key)) continue;
      candidates.push(ref);
    }
    if (candidates.length === 0) return;
    await this.deps.store.renewActor();
    for (const ref of candidates) {
      await this.deps.store.withRecordLock(ref.partition, ref.bucket, ref.key, async () => {
        if (this.deps.isReplica(ref.partition) || (await this.deps.hints.anyFor(ref.partition, ref.bucket, ref.key))) return;
        await this.deps.store.batch([{ type: "del", partition: ref.partition, bucket: ref.bucket, key: ref.key }]);
      });
    }
  }
}

/** Whether the owner refused a hinted record in a way no resend can change: it would pass the record bound there. */
function refusedForGood(err: unknown): boolean {
  return err instanceof DynamoError && (err.code === "record_too_large" || err.code === "value_too_large");
}
