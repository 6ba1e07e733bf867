/**
 * The coordinator: turns one client request into replica operations and a quorum decision. A write is versioned on
 * one replica (this node when it holds one, otherwise it is forwarded to a replica), then sent to the others, and
 * answered after W acknowledgements. A read asks R replicas (more when one fails or is slow, and now and then all of
 * them), answers after R replies with their merge, and repairs in the background any replica it asked whose version
 * was behind (read repair).
 */
import { DynamoError } from "../errors/index.js";
import type { ClusterView } from "../cluster/index.js";
import type { BucketConfig, Tuning } from "../config/index.js";
import type { HintStore } from "../handoff/index.js";
import type { NodeMetrics } from "../metrics/index.js";
import { RequestNotSentError, type PeerHandlers, type PeerOp } from "../peer/index.js";
import type { PeerRequestOut, PeerResponse, ReceivedRecord } from "../protocol/index.js";
import { partitionOf } from "../ring/index.js";
import { decodeRecord, merge, reconcile, sameVersion } from "../versioning/index.js";
import type { Hlc, VersionVector, VersionedRecord } from "../versioning/types.js";
import { QuorumTracker } from "./quorum.js";
import type { LocalReplica, ReplicaKey } from "./replica.js";
import { planReplicas, readOrder, type ReplicaPlan, type ReplicaTarget } from "./targets.js";

export interface CoordinatorDeps {
  cluster: ClusterView;
  bucket: (name: string) => BucketConfig | undefined;
  replica: LocalReplica;
  hints: HintStore;
  /** False while this node's copy of a partition is not to be trusted for reads (it is being rebuilt). */
  canVote: (partition: number) => boolean;
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
  /** Set when another node took the client's request and forwarded it: the time it stamped the write with. */
  stampedAt?: Hlc;
}

export interface ReadRequest {
  bucket: BucketConfig;
  key: Buffer;
  r: number;
  pr: number;
}

/**
 * What a read or a write answers: the version (a read's merge of the replies), and its encoding where it is a version
 * as a replica stored it (a write versioned here; a read whose replies agreed, the usual case), from which the
 * answer's context is taken without encoding the clock again.
 */
export interface KeyAnswer {
  record: VersionedRecord;
  encoded: Buffer | undefined;
}

/** One replica's stored version for a read, checked, decoded only where the read needs it. */
type StoredVersion = Pick<ReceivedRecord, "encoded" | "record">;

/**
 * This node's own stored version (a copy out of the record cache, which the read owns): its values may view it, like
 * those of a reply viewing its message.
 */
class LocalVersion implements StoredVersion {
  private decoded: VersionedRecord | undefined;

  constructor(readonly encoded: Buffer) {}

  get record(): VersionedRecord {
    return (this.decoded ??= decodeRecord(this.encoded, { copyValues: false }));
  }
}

/**
 * A stand-in could not record the hint for the member it stands in for, so it stored nothing. It is `not_ready` so
 * that a forwarding node tries another replica, exactly as after the refusal it gives when its store is full upfront.
 */
class NoRoomForHint extends DynamoError {
  constructor(message: string) {
    super("not_ready", message);
  }
}

export class Coordinator {
  private repairsInFlight = 0;
  /** How long replicas took to answer reads lately, for when a read asks the replicas it did not ask at first. */
  private readonly fetchLatency = new LatencyWindow();

  constructor(private readonly deps: CoordinatorDeps) {}

  async write(request: WriteRequest): Promise<KeyAnswer> {
    let context = request.context;
    if (context === undefined && request.value === null) {
      const seen = await this.read({ bucket: request.bucket, key: request.key, r: request.bucket.r, pr: 0 });
      context = seen?.record.clock ?? {};
    }
    const plan = this.plan(request.bucket, request.key);
    const mine = plan.targets.find((t) => t.id === this.deps.cluster.self);
    // A stand-in whose hint store is full cannot keep the write for its owner, so another replica versions it.
    if (!mine || (mine.hintFor !== undefined && !this.deps.hints.hasRoom())) return this.forward(plan, { ...request, context: context ?? {} });
    try {
      const { record, encoded } = await this.coordinateLocally(plan, mine, { ...request, context: context ?? {} });
      return { record, encoded };
    } catch (err) {
      // Concurrent writes can fill the hint store between the check above and this write's turn to add its hint.
      // Nothing was stored here then, so another replica versions the write, as if the store had been full before.
      if (err instanceof NoRoomForHint) return this.forward(plan, { ...request, context: context ?? {} });
      throw err;
    }
  }

  /**
   * Asks r of the key's replicas (readOrder: this node and live primaries first), and another for each that fails;
   * when they have not all answered within the 99th percentile of recent answers (at least `readSpeculateMs`), the
   * rest too. A share of reads (`readRepairChance`)
   * asks every replica at once, as all reads once did, so that read repair reaches a replica no other read asks.
   * r+w>n makes any r replicas of the preference list hold the newest acknowledged write, whichever r answer.
   */
  async read(request: ReadRequest): Promise<KeyAnswer | undefined> {
    const plan = this.plan(request.bucket, request.key);
    const at: ReplicaKey = { partition: plan.partition, bucket: request.bucket.name, key: request.key };
    const order = readOrder(plan.targets, this.deps.cluster.self, (id) => this.deps.cluster.isUp(id));
    const primaries = order.filter((t) => t.primary).length;
    const tracker = new QuorumTracker<StoredVersion | undefined>({ total: request.r, primaries: request.pr }, order.length, primaries);
    const fanout = new ReadFanout(order, tracker, (target) => this.readVote(target, at));
    const chance = this.deps.tuning.readRepairChance;
    fanout.ask(chance > 0 && Math.random() < chance ? order.length : request.r);
    const speculate = setTimeout(() => fanout.ask(order.length), Math.max(this.deps.tuning.readSpeculateMs, this.fetchLatency.p99));
    tracker.expireAfter(this.deps.tuning.requestTimeoutMs);
    const outcome = await tracker.done;
    clearTimeout(speculate);
    if (!outcome.ok) throw new DynamoError("unavailable", `read quorum not reached: ${outcome.reason}`);
    const merged = mergeReplies(tracker.replies, request.bucket);
    this.scheduleReadRepair(at, request.bucket, fanout, merged);
    return merged;
  }

  private readVote(target: ReplicaTarget, at: ReplicaKey): Promise<StoredVersion | undefined> {
    if (target.id === this.deps.cluster.self) return this.readLocalVote(at);
    const started = performance.now();
    return this.call(target.id, "fetch", { header: { partition: at.partition, bucket: at.bucket, key: at.key } }).then((res) => {
      this.fetchLatency.record(performance.now() - started);
      if (!res.header.canVote) throw new DynamoError("unavailable", `${target.id} is rebuilding partition ${at.partition}`);
      return res.body;
    });
  }

  /** The peer-protocol operations this coordinator serves to other nodes. */
  peerHandlers(): Pick<PeerHandlers, "fetch" | "replicate" | "coordinate"> {
    return {
      fetch: async ({ header: at }) => {
        if (!this.deps.canVote(at.partition)) return { header: { canVote: false } };
        return { header: { canVote: true }, body: await this.deps.replica.readEncoded(at) };
      },
      replicate: async ({ header, body }) => {
        const { hintFor, ...at } = header;
        const bucket = this.requireBucket(at.bucket);
        // The marker goes first: a stand-in copy is only ever dropped when no marker points at it.
        if (hintFor !== undefined && !(await this.deps.hints.add({ owner: hintFor, ...at, bytes: body.encoded.length }))) {
          throw new DynamoError("unavailable", `${this.deps.cluster.self} cannot keep a hint for ${hintFor}: its hint store is full`);
        }
        const { changed } = await this.deps.replica.mergeReceived(at, bucket.reconciliation, body);
        return { header: { changed } };
      },
      coordinate: async ({ header, body }) => {
        const bucket = this.requireBucket(header.bucket);
        const plan = this.plan(bucket, header.key);
        const mine = plan.targets.find((t) => t.id === this.deps.cluster.self);
        if (!mine || (mine.hintFor !== undefined && !this.deps.hints.hasRoom())) {
          // not_ready, not unavailable: the forwarder may try another replica, since nothing was stored here.
          throw new DynamoError("not_ready", `${this.deps.cluster.self} cannot coordinate this key: it holds no replica or has no room for hints`);
        }
        const { encoded } = await this.coordinateLocally(plan, mine, {
          bucket,
          key: header.key,
          value: header.delete ? null : body,
          contentType: header.contentType,
          context: header.context,
          w: header.w,
          pw: header.pw,
          stampedAt: header.stampedAt,
        });
        return { header: {}, body: encoded };
      },
    };
  }

  private plan(bucket: BucketConfig, key: Buffer): ReplicaPlan {
    const ring = this.deps.cluster.ring();
    if (!ring) throw new DynamoError("not_ready", "this node has no ring yet");
    const partition = partitionOf(bucket.name, key, ring.partitions);
    return planReplicas(ring, partition, bucket.n, (id) => this.deps.cluster.isUp(id), { sloppy: true });
  }

  /** Versions and stores the write here and replicates it; resolves with the new version and its encoding. */
  private async coordinateLocally(
    plan: ReplicaPlan,
    mine: ReplicaTarget,
    request: WriteRequest & { context: VersionVector },
  ): Promise<{ record: VersionedRecord; encoded: Buffer }> {
    const at: ReplicaKey = { partition: plan.partition, bucket: request.bucket.name, key: request.key };
    if (mine.hintFor !== undefined && !(await this.deps.hints.add({ owner: mine.hintFor, ...at, bytes: request.value?.length ?? 0 }))) {
      throw new NoRoomForHint(`${this.deps.cluster.self} stands in for ${mine.hintFor} but its hint store is full`);
    }
    const { record, encoded } = await this.deps.replica.coordinate(
      at,
      request.bucket.reconciliation,
      request.context,
      { value: request.value, contentType: request.contentType },
      request.stampedAt,
    );
    const others = plan.targets.filter((t) => t.id !== this.deps.cluster.self);
    const primariesAsked = plan.targets.filter((t) => t.primary).length;
    const tracker = new QuorumTracker<boolean>({ total: request.w, primaries: request.pw }, plan.targets.length, primariesAsked);
    tracker.success(mine.id, mine.primary, true);
    if (others.length > 0) {
      const header = { partition: at.partition, bucket: at.bucket, key: at.key };
      for (const target of others) {
        const withHint = target.hintFor === undefined ? header : { ...header, hintFor: target.hintFor };
        // Every replica gets the bytes stored here: encoded once, not once per replica.
        this.call(target.id, "replicate", { header: withHint, body: encoded }).then(
          () => tracker.success(target.id, target.primary, true),
          (err: Error) => tracker.failure(target.id, target.primary, err),
        );
      }
    }
    const recordBytes = request.value?.length ?? 0;
    tracker.onAllAnswered(() => this.hintFailedTargets(at, plan.targets, tracker, recordBytes));
    tracker.expireAfter(this.deps.tuning.requestTimeoutMs);
    const outcome = await tracker.done;
    if (!outcome.ok) {
      throw new DynamoError("unavailable", `write quorum not reached (the write may be stored on some replicas): ${outcome.reason}`);
    }
    return { record, encoded };
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
      if (owner === this.deps.cluster.self) continue;
      void this.deps.hints.add({ owner, ...at, bytes }).catch((err: Error) => this.deps.log(`could not record a hint for ${owner}: ${err.message}`));
    }
  }

  private async readLocalVote(at: ReplicaKey): Promise<StoredVersion | undefined> {
    if (!this.deps.canVote(at.partition)) throw new DynamoError("unavailable", `${this.deps.cluster.self} is rebuilding partition ${at.partition}`);
    const encoded = await this.deps.replica.readEncoded(at);
    return encoded && new LocalVersion(encoded);
  }

  /**
   * Hands the write to a replica that can version it, trying each live target in preference order — but only after
   * failures that prove the last one never took it. After a timeout or a lost connection the write may still be
   * applied there, even long after (a frame held up in a partition, a frozen process): sending it to another replica
   * too would store it twice, under two dots. The write is stamped here, when the client sent it, so if it does land
   * late it does not pass for newer than the writes made in between.
   */
  private async forward(plan: ReplicaPlan, request: WriteRequest & { context: VersionVector }): Promise<KeyAnswer> {
    this.deps.metrics.forwarded.inc();
    const header = {
      bucket: request.bucket.name,
      key: request.key,
      context: request.context,
      contentType: request.contentType,
      delete: request.value === null,
      w: request.w,
      pw: request.pw,
      stampedAt: this.deps.replica.clock.tick(),
    };
    const candidates = plan.targets.filter((t) => t.id !== this.deps.cluster.self).sort((a, b) => Number(this.deps.cluster.isUp(b.id)) - Number(this.deps.cluster.isUp(a.id)));
    let lastError: Error | undefined;
    for (const target of candidates) {
      try {
        const res = await this.call(target.id, "coordinate", { header, body: request.value ?? Buffer.alloc(0) }, this.deps.tuning.requestTimeoutMs);
        return { record: res.body, encoded: undefined };
      } catch (err) {
        const neverTaken = err instanceof RequestNotSentError || (err instanceof DynamoError && err.code === "not_ready");
        if (neverTaken) {
          lastError = err;
          continue;
        }
        if (err instanceof DynamoError && err.code === "unavailable") {
          throw new DynamoError("unavailable", `${target.id} took the write but did not confirm it; it may be stored, and is not sent to another replica, which would store it twice: ${err.message}`);
        }
        throw err;
      }
    }
    throw new DynamoError("unavailable", `no replica could coordinate the write: ${lastError?.message ?? "no replicas"}`);
  }

  /** `merged` is what the read answered, merged from the replies it had: the repair's target when they were all. */
  private scheduleReadRepair(at: ReplicaKey, bucket: BucketConfig, fanout: ReadFanout, merged: KeyAnswer | undefined): void {
    if (fanout.allAnswered) {
      this.repair(at, bucket, fanout.tracker.replies, merged);
      return;
    }
    if (this.repairsInFlight >= this.deps.tuning.readRepairQueueMax) {
      this.deps.metrics.readRepairsDropped.inc();
      return;
    }
    // Late replies are waited for (each is bounded by the peer timeout) so a slow stale replica is repaired too.
    this.repairsInFlight += 1;
    fanout.onSettled(() => {
      this.repairsInFlight -= 1;
      this.repair(at, bucket, fanout.tracker.replies);
    });
  }

  private repair(at: ReplicaKey, bucket: BucketConfig, replies: Reply[], merged = mergeReplies(replies, bucket)): void {
    if (!merged) return;
    for (const reply of replies) {
      if (reply.value && holdsAnswer(reply.value, merged)) continue;
      this.deps.metrics.readRepairs.inc();
      if (reply.id === this.deps.cluster.self) {
        void this.deps.replica.merge(at, bucket.reconciliation, merged.record).catch((err: Error) => this.deps.log(`read repair of local replica failed: ${err.message}`));
        continue;
      }
      const body = merged.encoded ?? merged.record;
      this.call(reply.id, "replicate", { header: { partition: at.partition, bucket: at.bucket, key: at.key }, body }).catch(() => undefined);
    }
  }

  private call<O extends PeerOp>(id: string, op: O, request: PeerRequestOut<O>, timeoutMs?: number): Promise<PeerResponse<O>> {
    const client = this.deps.cluster.peer(id);
    if (!client) return Promise.reject(new RequestNotSentError(`no address known for member ${id}`));
    return client.call(op, request, timeoutMs).catch((err: Error) => {
      this.deps.metrics.peerErrors.labels({ op }).inc();
      throw err;
    });
  }

  private requireBucket(name: string): BucketConfig {
    const bucket = this.deps.bucket(name);
    if (!bucket) throw new DynamoError("unknown_bucket", `bucket '${name}' is not configured on ${this.deps.cluster.self}`);
    return bucket;
  }
}

type Reply = { id: string; value: StoredVersion | undefined };

/**
 * The merge of a read's replies. Replicas that hold the same version hold the same bytes (the encoding is canonical), so
 * where every reply that holds the key holds those bytes, the answer is that version, decoded once and merged with
 * nothing; otherwise every reply is decoded and merged.
 */
function mergeReplies(replies: readonly Reply[], bucket: BucketConfig): KeyAnswer | undefined {
  let first: StoredVersion | undefined;
  let agree = true;
  for (const { value } of replies) {
    if (value === undefined) continue;
    if (first === undefined) {
      first = value;
    } else if (!value.encoded.equals(first.encoded)) {
      agree = false;
      break;
    }
  }
  if (first === undefined) return undefined;
  if (agree) {
    const record = reconcile(first.record, bucket.reconciliation);
    return { record, encoded: record === first.record ? first.encoded : undefined };
  }
  let merged: VersionedRecord | undefined;
  for (const { value } of replies) merged = merge(merged, value?.record);
  return { record: reconcile(merged!, bucket.reconciliation), encoded: undefined };
}

/** Whether a replica's version is the read's answer already, so read repair has nothing to send it. */
function holdsAnswer(version: StoredVersion, answer: KeyAnswer): boolean {
  return answer.encoded !== undefined ? version.encoded.equals(answer.encoded) : sameVersion(version.record, answer.record);
}

/**
 * The replicas one read has asked, in readOrder: `ask(k)` asks up to k more, each failure asks the next (while the
 * quorum is still open), and `onSettled` calls back once every replica asked has answered and no more will be.
 */
class ReadFanout {
  private next = 0;
  private sent = 0;
  private answered = 0;
  private whenSettled: (() => void) | undefined;

  constructor(
    private readonly order: readonly ReplicaTarget[],
    readonly tracker: QuorumTracker<StoredVersion | undefined>,
    private readonly vote: (target: ReplicaTarget) => Promise<StoredVersion | undefined>,
  ) {}

  /**
   * Calls `callback` once every replica asked has answered and no other will be (at once if so). Every answer checks
   * after it reaches the tracker, so no check is missed: the tracker settles either in an answer's callback or at its
   * deadline, and a read that reached its deadline fails without asking for this.
   */
  onSettled(callback: () => void): void {
    if (this.allAnswered) callback();
    else this.whenSettled = callback;
  }

  /** True when every replica asked has answered and no other will be asked. */
  get allAnswered(): boolean {
    return this.answered === this.sent && (this.tracker.isSettled || this.next >= this.order.length);
  }

  ask(count: number): void {
    if (this.tracker.isSettled) return;
    for (let i = 0; i < count && this.next < this.order.length; i++) {
      const target = this.order[this.next++]!;
      this.sent += 1;
      this.vote(target).then(
        (record) => {
          this.answered += 1;
          this.tracker.success(target.id, target.primary, record);
          this.check();
        },
        (err: Error) => {
          this.answered += 1;
          this.tracker.failure(target.id, target.primary, err);
          if (!this.tracker.isSettled) this.ask(1);
          this.check();
        },
      );
    }
  }

  private check(): void {
    if (this.whenSettled === undefined || !this.allAnswered) return;
    const callback = this.whenSettled;
    this.whenSettled = undefined;
    callback();
  }
}

/** The 99th percentile of the last 256 samples, computed again every 64 samples (0 before any). */
export class LatencyWindow {
  private readonly samples = new Float64Array(256);
  private count = 0;
  p99 = 0;

  record(ms: number): void {
    this.samples[this.count % this.samples.length] = ms;
    this.count += 1;
    if (this.count % 64 !== 0) return;
    const filled = this.samples.subarray(0, Math.min(this.count, this.samples.length)).slice().sort();
    this.p99 = filled[Math.floor(filled.length * 0.99)]!;
  }
}
