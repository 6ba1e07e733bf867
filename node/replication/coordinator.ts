/**
 * The coordinator: turns one client request into replica operations and a quorum decision. A write is versioned on
 * one replica (this node when it holds one, otherwise it is forwarded to a replica), then sent to the others, and
 * answered after W acknowledgements. A read asks every replica, answers after R replies with their merge, and
 * repairs in the background any replica whose version was behind (read repair).
 */
import { DynamoError } from "../errors/index.js";
import type { BucketConfig, Tuning } from "../config/index.js";
import type { HintStore } from "../handoff/index.js";
import { encodeEntries } from "../handoff/index.js";
import type { NodeMetrics } from "../metrics/index.js";
import type { Store } from "../storage/index.js";
import type { PeerClient, PeerHandler } from "../peer/index.js";
import { partitionOf } from "../ring/index.js";
import type { Ring } from "../ring/types.js";
import { decodeRecord, encodeRecord, merge, reconcile, sameVersion } from "../versioning/index.js";
import type { VersionVector, VersionedRecord } from "../versioning/types.js";
import { QuorumTracker } from "./quorum.js";
import type { LocalReplica, ReplicaKey } from "./replica.js";
import { planReplicas, type ReplicaPlan, type ReplicaTarget } from "./targets.js";

export interface CoordinatorDeps {
  self: string;
  ring: () => Ring | undefined;
  bucket: (name: string) => BucketConfig | undefined;
  replica: LocalReplica;
  store: Store;
  hints: HintStore;
  /** False while this node's copy of a partition is not to be trusted for reads (it is being rebuilt). */
  canVote: (partition: number) => boolean;
  peer: (id: string) => PeerClient | undefined;
  isUp: (id: string) => boolean;
  tuning: Tuning;
  metrics: NodeMetrics;
  log: (message: string) => void;
}

export interface WriteRequest {
  bucket: BucketConfig;
  key: Buffer;
  /** null deletes. */
  value: Buffer | null;
  contentType: string;
  /** Absent for a blind write; for a delete, absent means "delete what a quorum read sees now". */
  context: VersionVector | undefined;
  w: number;
  pw: number;
}

export interface ReadRequest {
  bucket: BucketConfig;
  key: Buffer;
  r: number;
  pr: number;
}

export class Coordinator {
  private repairsInFlight = 0;

  constructor(private readonly deps: CoordinatorDeps) {}

  async write(request: WriteRequest): Promise<VersionedRecord> {
    let context = request.context;
    if (context === undefined && request.value === null) {
      const seen = await this.read({ bucket: request.bucket, key: request.key, r: request.bucket.r, pr: 0 });
      context = seen?.clock ?? {};
    }
    const plan = this.plan(request.bucket, request.key);
    const mine = plan.targets.find((t) => t.id === this.deps.self);
    // A stand-in whose hint store is full cannot keep the write for its owner, so another replica versions it.
    if (!mine || (mine.hintFor !== undefined && !this.deps.hints.hasRoom())) return this.forward(plan, { ...request, context: context ?? {} });
    return this.coordinateLocally(plan, mine, { ...request, context: context ?? {} });
  }

  async read(request: ReadRequest): Promise<VersionedRecord | undefined> {
    const plan = this.plan(request.bucket, request.key);
    const at: ReplicaKey = { partition: plan.partition, bucket: request.bucket.name, key: request.key };
    const primariesAsked = plan.targets.filter((t) => t.primary).length;
    const tracker = new QuorumTracker<VersionedRecord | undefined>({ total: request.r, primaries: request.pr }, plan.targets.length, primariesAsked);
    const header = { p: at.partition, b: at.bucket, k: at.key.toString("base64") };
    for (const target of plan.targets) {
      const reply =
        target.id === this.deps.self
          ? this.readLocalVote(at)
          : this.call(target.id, "fetch", header).then((res) => {
              if (res.header.novote) throw new DynamoError("unavailable", `${target.id} is rebuilding partition ${at.partition}`);
              return res.header.found ? decodeRecord(res.body) : undefined;
            });
      reply.then(
        (record) => tracker.success(target.id, target.primary, record),
        (err: Error) => tracker.failure(target.id, target.primary, err),
      );
    }
    const outcome = await this.withDeadline(tracker.done, "read");
    if (!outcome.ok) throw new DynamoError("unavailable", `read quorum not reached: ${outcome.reason}`);
    const merged = mergeAll(tracker.replies.map((r) => r.value), request.bucket);
    this.scheduleReadRepair(at, request.bucket, plan.targets, tracker);
    return merged;
  }

  /** The peer-protocol operations this coordinator serves to other nodes. */
  peerHandlers(): Record<string, PeerHandler> {
    return {
      fetch: async (header) => {
        const at = this.replicaKey(header);
        if (!this.deps.canVote(at.partition)) return { header: { found: false, novote: true } };
        const record = await this.deps.replica.read(at);
        return record ? { header: { found: true }, body: encodeRecord(record) } : { header: { found: false } };
      },
      replicate: async (header, body) => {
        const at = this.replicaKey(header);
        const bucket = this.requireBucket(String(header.b));
        // The marker goes first: a stand-in copy is only ever dropped when no marker points at it.
        if (typeof header.h === "string" && !(await this.deps.hints.add({ owner: header.h, ...at, bytes: body.length }))) {
          throw new DynamoError("unavailable", `${this.deps.self} cannot keep a hint for ${header.h}: its hint store is full`);
        }
        const { changed } = await this.deps.replica.merge(at, bucket.reconciliation, decodeRecord(body));
        return { header: { changed } };
      },
      scan: async (header) => {
        const after = header.after as { b: string; k: string } | undefined;
        const { entries, done } = await this.deps.store.scanPartitionRaw(
          Number(header.p),
          after ? { bucket: String(after.b), key: Buffer.from(String(after.k), "base64") } : undefined,
          Math.min(Number(header.limit) || 256, 4096),
          4 * 1024 * 1024,
        );
        return { header: { done, count: entries.length }, body: encodeEntries(entries) };
      },
      coordinate: async (header, body) => {
        const bucket = this.requireBucket(String(header.b));
        const key = Buffer.from(String(header.k), "base64");
        const plan = this.plan(bucket, key);
        const mine = plan.targets.find((t) => t.id === this.deps.self);
        if (!mine || (mine.hintFor !== undefined && !this.deps.hints.hasRoom())) {
          throw new DynamoError("unavailable", `${this.deps.self} cannot coordinate this key: it holds no replica or has no room for hints`);
        }
        const record = await this.coordinateLocally(plan, mine, {
          bucket,
          key,
          value: header.del ? null : body,
          contentType: String(header.ct),
          context: header.ctx as VersionVector,
          w: Number(header.w),
          pw: Number(header.pw),
        });
        return { body: encodeRecord(record) };
      },
    };
  }

  private plan(bucket: BucketConfig, key: Buffer): ReplicaPlan {
    const ring = this.deps.ring();
    if (!ring) throw new DynamoError("not_ready", "this node has no ring yet");
    const partition = partitionOf(bucket.name, key, ring.partitions);
    return planReplicas(ring, partition, bucket.n, this.deps.isUp, { sloppy: true });
  }

  private async coordinateLocally(plan: ReplicaPlan, mine: ReplicaTarget, request: WriteRequest & { context: VersionVector }): Promise<VersionedRecord> {
    const at: ReplicaKey = { partition: plan.partition, bucket: request.bucket.name, key: request.key };
    if (mine.hintFor !== undefined && !(await this.deps.hints.add({ owner: mine.hintFor, ...at, bytes: request.value?.length ?? 0 }))) {
      throw new DynamoError("unavailable", `${this.deps.self} stands in for ${mine.hintFor} but its hint store is full`);
    }
    const record = await this.deps.replica.coordinate(at, request.bucket.reconciliation, request.context, {
      value: request.value,
      contentType: request.contentType,
    });
    const others = plan.targets.filter((t) => t.id !== this.deps.self);
    const primariesAsked = plan.targets.filter((t) => t.primary).length;
    const tracker = new QuorumTracker<boolean>({ total: request.w, primaries: request.pw }, plan.targets.length, primariesAsked);
    tracker.success(mine.id, mine.primary, true);
    if (others.length > 0) {
      const body = encodeRecord(record);
      const header = { p: at.partition, b: at.bucket, k: at.key.toString("base64") };
      for (const target of others) {
        const withHint = target.hintFor === undefined ? header : { ...header, h: target.hintFor };
        this.call(target.id, "replicate", withHint, body).then(
          () => tracker.success(target.id, target.primary, true),
          (err: Error) => tracker.failure(target.id, target.primary, err),
        );
      }
    }
    const recordBytes = request.value?.length ?? 0;
    void tracker.allAnswered.then(() => this.hintFailedTargets(at, plan.targets, tracker, recordBytes));
    const outcome = await this.withDeadline(tracker.done, "write");
    if (!outcome.ok) {
      throw new DynamoError("unavailable", `write quorum not reached (the write may be stored on some replicas): ${outcome.reason}`);
    }
    return record;
  }

  /**
   * A replica that did not acknowledge a write gets a hint here, on the coordinator, which holds the version: when
   * the replica is back the hint delivers it, instead of waiting for anti-entropy to notice.
   */
  private hintFailedTargets(at: ReplicaKey, targets: ReplicaTarget[], tracker: QuorumTracker<boolean>, bytes: number): void {
    for (const { id } of tracker.errors) {
      const target = targets.find((t) => t.id === id);
      if (!target) continue;
      const owner = target.hintFor ?? target.id;
      if (owner === this.deps.self) continue;
      void this.deps.hints.add({ owner, ...at, bytes }).catch((err: Error) => this.deps.log(`could not record a hint for ${owner}: ${err.message}`));
    }
  }

  private async readLocalVote(at: ReplicaKey): Promise<VersionedRecord | undefined> {
    if (!this.deps.canVote(at.partition)) throw new DynamoError("unavailable", `${this.deps.self} is rebuilding partition ${at.partition}`);
    return this.deps.replica.read(at);
  }

  /** Hands the write to a replica that can version it, trying each live target in preference order. */
  private async forward(plan: ReplicaPlan, request: WriteRequest & { context: VersionVector }): Promise<VersionedRecord> {
    this.deps.metrics.forwarded.inc();
    const header = {
      b: request.bucket.name,
      k: request.key.toString("base64"),
      ctx: request.context,
      ct: request.contentType,
      del: request.value === null,
      w: request.w,
      pw: request.pw,
    };
    const candidates = plan.targets.filter((t) => t.id !== this.deps.self).sort((a, b) => Number(this.deps.isUp(b.id)) - Number(this.deps.isUp(a.id)));
    let lastError: Error | undefined;
    for (const target of candidates) {
      try {
        const res = await this.call(target.id, "coordinate", header, request.value ?? undefined, this.deps.tuning.requestTimeoutMs);
        return decodeRecord(res.body);
      } catch (err) {
        if (!(err instanceof DynamoError) || (err.code !== "unavailable" && err.code !== "not_ready")) throw err;
        lastError = err;
      }
    }
    throw new DynamoError("unavailable", `no replica could coordinate the write: ${lastError?.message ?? "no replicas"}`);
  }

  private scheduleReadRepair(at: ReplicaKey, bucket: BucketConfig, targets: ReplicaTarget[], tracker: QuorumTracker<VersionedRecord | undefined>): void {
    if (tracker.outstanding === 0) {
      this.repair(at, bucket, tracker.replies);
      return;
    }
    if (this.repairsInFlight >= this.deps.tuning.readRepairQueueMax) {
      this.deps.metrics.readRepairsDropped.inc();
      return;
    }
    // Late replies are waited for (each is bounded by the peer timeout) so a slow stale replica is repaired too.
    this.repairsInFlight += 1;
    void tracker.allAnswered.then(() => {
      this.repairsInFlight -= 1;
      this.repair(at, bucket, tracker.replies.filter((r) => targets.some((t) => t.id === r.id)));
    });
  }

  private repair(at: ReplicaKey, bucket: BucketConfig, replies: { id: string; value: VersionedRecord | undefined }[]): void {
    const merged = mergeAll(replies.map((r) => r.value), bucket);
    if (!merged) return;
    let body: Buffer | undefined;
    for (const reply of replies) {
      if (reply.value && sameVersion(reply.value, merged)) continue;
      this.deps.metrics.readRepairs.inc();
      if (reply.id === this.deps.self) {
        void this.deps.replica.merge(at, bucket.reconciliation, merged).catch((err: Error) => this.deps.log(`read repair of local replica failed: ${err.message}`));
        continue;
      }
      body ??= encodeRecord(merged);
      this.call(reply.id, "replicate", { p: at.partition, b: at.bucket, k: at.key.toString("base64") }, body).catch(() => undefined);
    }
  }

  private call(id: string, op: string, header: Record<string, unknown>, body?: Buffer, timeoutMs?: number) {
    const client = this.deps.peer(id);
    if (!client) return Promise.reject(new DynamoError("unavailable", `no address known for member ${id}`));
    return client.request(op, header, body, timeoutMs).catch((err: Error) => {
      this.deps.metrics.peerErrors.inc({ op });
      throw err;
    });
  }

  private withDeadline<T>(promise: Promise<T>, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new DynamoError("unavailable", `${what} quorum not reached within ${this.deps.tuning.requestTimeoutMs} ms`)),
        this.deps.tuning.requestTimeoutMs,
      );
      promise.then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (err: unknown) => {
          clearTimeout(timer);
          reject(err);
        },
      );
    });
  }

  private replicaKey(header: Record<string, unknown>): ReplicaKey {
    return { partition: Number(header.p), bucket: String(header.b), key: Buffer.from(String(header.k), "base64") };
  }

  private requireBucket(name: string): BucketConfig {
    const bucket = this.deps.bucket(name);
    if (!bucket) throw new DynamoError("unknown_bucket", `bucket '${name}' is not configured on ${this.deps.self}`);
    return bucket;
  }
}

function mergeAll(records: (VersionedRecord | undefined)[], bucket: BucketConfig): VersionedRecord | undefined {
  let merged: VersionedRecord | undefined;
  for (const record of records) merged = merge(merged, record);
  return merged && reconcile(merged, bucket.reconciliation);
}
