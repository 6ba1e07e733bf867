import assert from "node:assert/strict";
import { RingRouter, type RingAnswer } from "../../../client/routing.js";
import { createRing, encodeRingView, replicasOf, type Member, type Ring } from "../../../node/ring/index.js";

const URLS = ["n0", "n1", "n2", "n3", "n4", "n5"].map((id, i) => `http://127.0.0.1:${8080 + 2 * i}`);

function member(i: number): Member {
  return { id: `n${i}`, peerUrl: `http://127.0.0.1:${8081 + 2 * i}`, clientUrl: URLS[i]!, incarnation: `inc-${i}`, state: "valid" };
}

function ring(epoch: number, size = 6): Ring {
  return { ...createRing({ partitions: 64, members: Array.from({ length: size }, (_, i) => member(i)), targetN: 3 }), epoch };
}

/** A router over a fake clock whose ring fetches are answered from `served`, recording each one. */
function harness(options: ConstructorParameters<typeof RingRouter>[0]["options"] = {}, baseUrls: string[] = [URLS[0]!]) {
  const clock = { now: 0 };
  const fetches: Array<{ url: string; etag: string | undefined }> = [];
  const state: { served: Ring; fail: boolean } = { served: ring(5), fail: false };
  const router = new RingRouter({
    baseUrls,
    now: () => clock.now,
    options,
    fetchRing: async (url, etag): Promise<RingAnswer> => {
      fetches.push({ url, etag });
      if (state.fail) throw new Error("connection refused");
      const tag = `"0.${state.served.epoch}-x"`;
      if (etag === tag) return { status: 304, etag: tag };
      return { status: 200, etag: tag, body: JSON.parse(JSON.stringify(encodeRingView(state.served, [{ name: "default", n: 3 }]))) };
    },
  });
  return { router, clock, fetches, state };
}

const urlOf = (id: string): string => URLS[Number(id.slice(1))]!;

describe("client routing (RingRouter)", () => {
  it("goes round-robin until the ring is known, fetching it once however many requests ask", async () => {
    const { router, fetches } = harness();
    assert.equal(router.candidates("default", Buffer.from("k"), "write"), undefined);
    assert.equal(router.candidates("default", Buffer.from("k"), "read"), undefined);
    await router.refresh();
    assert.equal(fetches.length, 1);
    assert.equal(router.version, "0.5");
  });

  it("sends a write to the key's replicas in preference order, then to every other base URL", async () => {
    const { router, state } = harness({}, URLS);
    await router.refresh();
    for (let i = 0; i < 50; i++) {
      const key = Buffer.from(`key-${i}`);
      const replicas = replicasOf(state.served, "default", key, 3).map(urlOf);
      const order = router.candidates("default", key, "write")!;
      assert.deepEqual(order.slice(0, 3), replicas);
      assert.deepEqual([...order].sort(), [...URLS].sort(), "each node once");
    }
  });

  it("spreads reads over the replicas in turn", async () => {
    const { router, state } = harness();
    await router.refresh();
    const key = Buffer.from("hot");
    const replicas = replicasOf(state.served, "default", key, 3).map(urlOf);
    const firsts = [0, 1, 2, 3, 4, 5].map(() => router.candidates("default", key, "read")![0]);
    assert.deepEqual(firsts, [...replicas, ...replicas]);
  });

  it("leaves unknown buckets to round-robin", async () => {
    const { router } = harness();
    await router.refresh();
    assert.equal(router.candidates("other", Buffer.from("k"), "write"), undefined);
  });

  it("passes a failed node over, longer each time it fails again, and trusts it again once it answers", async () => {
    const { router, clock, state } = harness({ downMs: 1_000, downMaxMs: 3_000, ringMaxAgeMs: 1e9 });
    await router.refresh();
    const key = Buffer.from("k");
    const [first, second] = replicasOf(state.served, "default", key, 3).map(urlOf);
    router.failed(first!);
    assert.equal(router.candidates("default", key, "write")![0], second, "the next replica coordinates");
    assert.equal(router.candidates("default", key, "write")!.at(-1), first, "the failed one is still tried, last");
    clock.now = 1_000;
    assert.equal(router.candidates("default", key, "write")![0], first, "tried again after downMs");
    router.failed(first!);
    clock.now = 2_999;
    assert.equal(router.candidates("default", key, "write")![0], second, "twice as long after a second failure");
    clock.now = 3_000;
    router.failed(first!);
    router.failed(first!);
    clock.now = 5_999;
    assert.equal(router.candidates("default", key, "write")![0], second);
    clock.now = 6_000;
    assert.equal(router.candidates("default", key, "write")![0], first, "never longer than downMaxMs");
    router.failed(first!);
    router.answered(first!, { status: 204, headers: {}, body: Buffer.alloc(0) });
    assert.equal(router.candidates("default", key, "write")![0], first, "an answer clears the mark");
  });

  it("refreshes on a hint of a newer ring, at most once per interval however many hints arrive", async () => {
    const { router, clock, fetches, state } = harness({ refreshIntervalMinMs: 1_000, ringMaxAgeMs: 1e9 });
    await router.refresh();
    state.served = ring(6, 6);
    const hint = (name: string, version: string) => ({ status: 204, headers: { [name]: version }, body: Buffer.alloc(0) });
    // Older, equal and garbled versions are no reason to fetch.
    clock.now = 5_000;
    for (const v of ["0.4", "0.5", "nonsense"]) router.answered(URLS[1]!, hint("x-dynamo-misdirected", v));
    assert.equal(fetches.length, 1);
    for (let i = 0; i < 100; i++) router.answered(URLS[1]!, hint(i % 2 ? "x-dynamo-misdirected" : "x-dynamo-ring-version", "0.6"));
    await router.refresh();
    assert.equal(fetches.length, 2, "a hundred hints, one fetch");
    assert.equal(router.version, "0.6");
    clock.now = 5_500;
    state.served = ring(7, 6);
    router.answered(URLS[1]!, hint("x-dynamo-ring-version", "0.7"));
    assert.equal(fetches.length, 2, "not within the interval");
    clock.now = 6_000;
    router.answered(URLS[1]!, hint("x-dynamo-ring-version", "0.7"));
    await router.refresh();
    assert.equal(fetches.length, 3);
    assert.equal(router.version, "0.7");
  });

  it("revalidates an old ring with its ETag and keeps it on 304", async () => {
    const { router, clock, fetches } = harness({ ringMaxAgeMs: 10_000 });
    await router.refresh();
    clock.now = 9_999;
    router.candidates("default", Buffer.from("k"), "write");
    assert.equal(fetches.length, 1);
    clock.now = 10_000;
    router.candidates("default", Buffer.from("k"), "write");
    await router.refresh();
    assert.deepEqual(fetches[1], { url: URLS[0], etag: '"0.5-x"' });
    assert.equal(router.stats.notModified, 1);
    assert.equal(router.version, "0.5");
  });

  it("never goes back to an older ring served by a node that is behind", async () => {
    const { router, clock, state } = harness({ refreshIntervalMinMs: 0 });
    state.served = ring(8);
    await router.refresh();
    state.served = ring(7);
    clock.now = 1;
    await router.refresh();
    assert.equal(router.version, "0.8");
  });

  it("backs off after failed fetches, and keeps routing by the ring it has", async () => {
    const { router, clock, fetches, state } = harness({ refreshIntervalMinMs: 1_000, ringMaxAgeMs: 8_000 });
    await router.refresh();
    state.fail = true;
    const times: number[] = [];
    for (clock.now = 1_000; clock.now <= 40_000; clock.now += 100) {
      const before = fetches.length;
      await router.refresh();
      if (fetches.length > before) times.push(clock.now);
    }
    assert.deepEqual(times, [1_000, 2_000, 4_000, 8_000, 16_000, 24_000, 32_000, 40_000], "1, 2, 4 s apart, then every ringMaxAgeMs");
    assert.ok(router.candidates("default", Buffer.from("k"), "write"));
  });

  it("fetches from the base URLs in turn, skipping one that failed", async () => {
    const { router, clock, fetches } = harness({ refreshIntervalMinMs: 0 }, URLS.slice(0, 3));
    router.failed(URLS[1]!);
    for (let i = 0; i < 4; i++) {
      clock.now += 1;
      await router.refresh();
    }
    assert.deepEqual(fetches.map((f) => f.url), [URLS[0], URLS[2], URLS[0], URLS[2]]);
  });
});
