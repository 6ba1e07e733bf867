/**
 * Seeded randomized properties of the versioning scheme, checked against a small simulated cluster: replicas that
 * coordinate writes with contexts from fresh or stale reads, blind writes, and one-way syncs in random order.
 */
import assert from "node:assert/strict";
import {
  covers,
  merge,
  mergeClocks,
  reconcile,
  sameVersion,
  update,
  type Reconciliation,
  type VersionedRecord,
  type VersionVector,
} from "../../../node/versioning/index.js";
import { put } from "./fixtures.js";
import { seededRandom, type SeededRandom as Random } from "../../../lib/random.js";
import { testSeed } from "../../helpers/random.js";

interface Replica {
  actor: string;
  record: VersionedRecord | undefined;
}

/** What the simulation remembers of each write: the context it was made with, keyed by its dot. */
type WriteLog = Map<string, { context: VersionVector; value: string }>;

const dotKey = (actor: string, counter: number): string => `${actor}:${counter}`;

class Cluster {
  readonly replicas: Replica[];
  readonly writes: WriteLog = new Map();
  readonly reads: VersionVector[] = [];
  /** Every state any replica has been in, for the merge-law checks. */
  readonly states: VersionedRecord[] = [];
  private nextValue = 0;

  constructor(
    private readonly random: Random,
    replicaCount: number,
    private readonly mode: Reconciliation = "siblings",
  ) {
    this.replicas = Array.from({ length: replicaCount }, (_, index) => ({ actor: `node-${index}`, record: undefined }));
  }

  /** A quorum-style read: the merged clock of one or two replicas. */
  read(): VersionVector {
    const first = this.random.pick(this.replicas).record?.clock ?? {};
    const second = this.random.chance(0.5) ? (this.random.pick(this.replicas).record?.clock ?? {}) : {};
    const context = mergeClocks(first, second);
    this.reads.push(context);
    return context;
  }

  /** A write at a random replica with a blind, fresh or stale context. */
  write(): void {
    const replica = this.random.pick(this.replicas);
    const roll = this.random.next();
    const blind = roll < 0.2 || this.reads.length === 0;
    const context = blind ? {} : roll < 0.6 ? this.read() : this.random.pick(this.reads);
    const value = `w${this.nextValue++}`;
    const next = update(replica.record, context, put(value, this.random.int(1000)), replica.actor);
    const created = next.siblings.find((sibling) => sibling.value?.toString() === value);
    assert.ok(created, "the new write is one of the result's siblings");
    this.writes.set(dotKey(created.dot.actor, created.dot.counter), { context, value });
    this.store(replica, next);
  }

  /** One replica sends its state to another (hinted handoff, read repair, anti-entropy all look like this). */
  sync(): void {
    const from = this.random.pick(this.replicas);
    const to = this.random.pick(this.replicas);
    this.store(to, merge(to.record, from.record));
  }

  /** Syncs every replica with every other until nothing changes. */
  converge(): void {
    for (let round = 0; round < 3; round++) {
      for (const from of this.replicas) {
        for (const to of this.replicas) this.store(to, merge(to.record, from.record));
      }
    }
  }

  /** The writes no other write's context has covered: exactly the ones that must survive as siblings. */
  unsuperseded(): Set<string> {
    const alive = new Set<string>();
    for (const key of this.writes.keys()) {
      const [actor, counter] = key.split(":") as [string, string];
      const dot = { actor, counter: Number(counter) };
      const superseded = [...this.writes.values()].some((write) => covers(write.context, dot));
      if (!superseded) alive.add(key);
    }
    return alive;
  }

  private store(replica: Replica, record: VersionedRecord | undefined): void {
    replica.record = record === undefined ? undefined : reconcile(record, this.mode);
    if (replica.record !== undefined) {
      this.checkCausalSiblings(replica.record);
      this.states.push(replica.record);
    }
  }

  /** Two writes where one's context covered the other must never be siblings, on any replica, at any moment. */
  private checkCausalSiblings(record: VersionedRecord): void {
    for (const sibling of record.siblings) {
      assert.ok(covers(record.clock, sibling.dot), "every sibling's dot is covered by its record's clock");
      const write = this.writes.get(dotKey(sibling.dot.actor, sibling.dot.counter));
      assert.ok(write, "every sibling is a write the simulation made");
      assert.equal(sibling.value?.toString(), write.value, "a dot always carries the value of its write");
      for (const other of record.siblings) {
        if (other !== sibling) {
          assert.ok(!covers(write.context, other.dot), "a write and a write it superseded are never siblings");
        }
      }
    }
  }
}

function simulate(random: Random, steps: number, mode: Reconciliation = "siblings"): Cluster {
  const cluster = new Cluster(random, 2 + random.int(4), mode);
  for (let step = 0; step < steps; step++) {
    const roll = random.next();
    if (roll < 0.4) cluster.write();
    else if (roll < 0.55) cluster.read();
    else cluster.sync();
  }
  return cluster;
}

/** Records compared as values: the same clock and the same siblings in the same order. */
function assertSameRecord(
  actual: VersionedRecord | undefined,
  expected: VersionedRecord | undefined,
  law: string,
): void {
  assert.deepEqual(actual, expected, law);
}

describe("versioning: replica simulation (seeded)", () => {
  const seed = testSeed();

  it("loses no write unless a context that saw it superseded it, and replicas converge", () => {
    for (let run = 0; run < 60; run++) {
      const cluster = simulate(seededRandom(seed + run), 120);
      cluster.converge();
      const [first, ...others] = cluster.replicas.map((replica) => replica.record);
      for (const other of others) assert.ok(sameVersion(first, other), `run ${run}: replicas converged`);
      const survivors = new Set((first?.siblings ?? []).map((s) => dotKey(s.dot.actor, s.dot.counter)));
      assert.deepEqual(survivors, cluster.unsuperseded(), `run ${run}: exactly the unsuperseded writes survive`);
    }
  });

  it("never creates siblings for writes that each read the previous one", () => {
    for (let run = 0; run < 40; run++) {
      const random = seededRandom(seed + 1000 + run);
      const replicas: Replica[] = ["a", "b", "c"].map((actor) => ({ actor, record: undefined }));
      let holder = random.pick(replicas);
      for (let step = 0; step < 60; step++) {
        // The client reads from a replica that has the latest write, then writes through any replica.
        const context = holder.record?.clock ?? {};
        const coordinator = random.pick(replicas);
        coordinator.record = update(coordinator.record, context, put(`v${step}`), coordinator.actor);
        holder = coordinator;
        for (let syncs = random.int(3); syncs > 0; syncs--) {
          const from = random.pick(replicas);
          const to = random.pick(replicas);
          to.record = merge(to.record, from.record);
          if (sameVersion(to.record, holder.record)) holder = to;
        }
        for (const replica of replicas) {
          assert.ok((replica.record?.siblings.length ?? 0) <= 1, `run ${run} step ${step}: no siblings`);
        }
      }
    }
  });

  it("merge is commutative, associative and idempotent over reachable states", () => {
    for (let run = 0; run < 30; run++) {
      const random = seededRandom(seed + 2000 + run);
      const states = simulate(random, 80).states;
      if (states.length === 0) continue;
      for (let check = 0; check < 100; check++) {
        const a = random.pick(states);
        const b = random.pick(states);
        const c = random.pick(states);
        assertSameRecord(merge(a, b), merge(b, a), `run ${run}: commutative`);
        assertSameRecord(merge(a, merge(b, c)), merge(merge(a, b), c), `run ${run}: associative`);
        assertSameRecord(merge(a, a), a, `run ${run}: idempotent`);
        const ab = merge(a, b) as VersionedRecord;
        assertSameRecord(merge(ab, b), ab, `run ${run}: absorbs what it has already merged`);
      }
    }
  });

  it("lww replicas converge on one sibling whatever the sync order", () => {
    for (let run = 0; run < 30; run++) {
      const cluster = simulate(seededRandom(seed + 3000 + run), 100, "lww");
      cluster.converge();
      const [first, ...others] = cluster.replicas.map((replica) => replica.record);
      for (const other of others) assert.ok(sameVersion(first, other), `run ${run}: replicas converged`);
      assert.ok((first?.siblings.length ?? 0) <= 1, `run ${run}: one sibling`);
      for (const replica of cluster.replicas) assert.ok((replica.record?.siblings.length ?? 0) <= 1);
    }
  });
});
