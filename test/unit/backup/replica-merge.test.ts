import assert from "node:assert/strict";
import { mergeReplicas, type ReplicaOutcome, type ReplicaScan } from "../../../backup/replica-merge.js";
import type { DecodedEntry } from "../../../node/protocol/index.js";
import { update, type VersionedRecord } from "../../../node/versioning/index.js";

const write = (value: string | null, ms: number) => ({ value: value === null ? null : Buffer.from(value), contentType: "text/plain", timestamp: { ms, logical: 0 } });

/** A replica serving its sorted entries in pages of `pageSize`, failing at page `failAt` when given. */
function replica(id: string, entries: DecodedEntry[], pageSize = 2, failAt?: number, canVote = true): ReplicaScan {
  const sorted = [...entries].sort((a, b) => (a.bucket === b.bucket ? Buffer.compare(a.key, b.key) : a.bucket < b.bucket ? -1 : 1));
  let pages = 0;
  return {
    id,
    page: async (after) => {
      if (failAt !== undefined && pages++ >= failAt) throw new Error(`${id} went away`);
      const start = after ? sorted.findIndex((e) => e.bucket > after.bucket || (e.bucket === after.bucket && Buffer.compare(e.key, after.key) > 0)) : 0;
      const from = start < 0 ? sorted.length : start;
      const page = sorted.slice(from, from + pageSize);
      return { entries: page, done: from + pageSize >= sorted.length, canVote, epoch: 3, last: page.length ? { bucket: page[page.length - 1]!.bucket, key: page[page.length - 1]!.key } : undefined };
    },
  };
}

const entry = (bucket: string, key: string, record: VersionedRecord): DecodedEntry => ({ bucket, key: Buffer.from(key), record });

async function collect(scans: ReplicaScan[], mode: "siblings" | "lww" = "siblings") {
  const outcomes: ReplicaOutcome[] = [];
  const out = new Map<string, VersionedRecord>();
  for await (const m of mergeReplicas(scans, () => mode, outcomes)) out.set(`${m.bucket}/${m.key.toString()}`, m.record);
  return { out, outcomes };
}

describe("merging a partition's replicas for a backup", function () {
  it("yields each key once, in order, with every write any replica has", async function () {
    const base = update(undefined, {}, write("v1", 1), "a");
    const onB = update(base, {}, write("concurrent", 2), "b");
    const a = replica("a", [entry("cart", "k1", base), entry("cart", "k3", base)]);
    const b = replica("b", [entry("cart", "k1", onB), entry("cart", "k2", base)]);
    const { out, outcomes } = await collect([a, b]);
    assert.deepEqual([...out.keys()], ["cart/k1", "cart/k2", "cart/k3"]);
    assert.deepEqual(out.get("cart/k1")!.siblings.map((s) => s.value?.toString()).sort(), ["concurrent", "v1"]);
    assert.ok(outcomes.every((o) => o.complete && !o.error));
  });

  it("a delete one replica saw wins over the value another replica still holds", async function () {
    const value = update(undefined, {}, write("v1", 1), "a");
    const deleted = update(value, value.clock, write(null, 2), "a");
    const { out } = await collect([replica("a", [entry("cart", "k", value)]), replica("b", [entry("cart", "k", deleted)])]);
    const record = out.get("cart/k")!;
    assert.equal(record.siblings.length, 1);
    assert.equal(record.siblings[0]!.value, null);
  });

  it("lww buckets keep one winner by timestamp", async function () {
    const early = update(undefined, {}, write("early", 1), "a");
    const late = update(undefined, {}, write("late", 5), "b");
    const { out } = await collect([replica("a", [entry("s", "k", early)]), replica("b", [entry("s", "k", late)])], "lww");
    assert.deepEqual(out.get("s/k")!.siblings.map((s) => s.value?.toString()), ["late"]);
  });

  it("a replica failing mid-way is reported, and the others are still read in full", async function () {
    const r = update(undefined, {}, write("v", 1), "a");
    const many = Array.from({ length: 9 }, (_, i) => entry("cart", `k${i}`, r));
    const { out, outcomes } = await collect([replica("a", many, 2), replica("b", many, 2, 1), replica("c", many, 2, undefined, false)]);
    assert.equal(out.size, 9);
    const byId = new Map(outcomes.map((o) => [o.id, o]));
    assert.equal(byId.get("a")!.complete, true);
    assert.match(byId.get("b")!.error!.message, /went away/);
    assert.equal(byId.get("b")!.complete, false);
    assert.equal(byId.get("c")!.canVote, false);
  });
});
