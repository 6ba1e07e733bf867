// A node receiving partitions in a ring step: the transfers from one source are copied together with `scan-many`
// pages when the source serves them, and one by one with `scan` when it is of an earlier version. Real LevelDB stores
// on both sides, a real peer port and client over loopback; the cluster view is a plain object naming the two members.
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { ClusterView } from "../../../node/cluster/index.js";
import { partitionSourceHandlers, TransferReceiver } from "../../../node/handoff/index.js";
import { PeerClient, PeerServer } from "../../../node/peer/index.js";
import { LocalReplica } from "../../../node/replication/index.js";
import { createRing, type Member } from "../../../node/ring/index.js";
import { Store } from "../../../node/storage/index.js";
import { HybridClock, update } from "../../../node/versioning/index.js";
import { peerHandlers } from "../../helpers/peer-wire.js";
import { openTempStore, removeTempStore, type TempStore } from "../../helpers/temp-store.js";

const TOKEN = "t".repeat(16);
const LIMITS = { siblingsWarn: 25, siblingsMax: 100, recordBytesMax: 64 * 1024 };
/** Records per partition: one partition spans several pages, one is empty, the others are a few records each. */
const SIZES = [3, 40, 0, 7, 1, 12, 5, 9, 2, 6, 11, 4];

describe("receiving partitions from one source", function () {
  let temps: TempStore[] = [];
  let server: Server | undefined;
  let client: PeerClient | undefined;
  let receiver: TransferReceiver | undefined;

  afterEach(async function () {
    await receiver?.stop();
    client?.close();
    server?.closeAllConnections();
    server?.close();
    for (const temp of temps) await removeTempStore(temp);
    temps = [];
  });

  async function openStore(): Promise<Store> {
    const temp = await openTempStore("dynamo-receiver-");
    temps.push(temp);
    return temp.store;
  }

  /**
   * Fills the sender's partitions, serves them on a peer port counting each request by operation, and receives every
   * partition at a new member; `level` overrides the protocol level the receiver's client sees.
   */
  async function copyAll(level?: number): Promise<{ sender: Store; receiving: Store; calls: Record<string, number> }> {
    const sender = await openStore();
    const receiving = await openStore();
    const record = (i: number) => update(undefined, {}, { value: Buffer.alloc(200, i), contentType: "text/plain", timestamp: { ms: 1 + i, logical: 0 } }, "writer");
    for (const [partition, size] of SIZES.entries()) {
      for (let i = 0; i < size; i++) await sender.put(partition, "default", Buffer.from(`key-${partition}-${i}`), record(i));
    }

    const calls: Record<string, number> = { scan: 0, "scan-many": 0 };
    const source = partitionSourceHandlers(sender, { pageBytesMax: 1 << 20, recordBytesMax: 1 << 20, canVote: () => true, epoch: () => 2, skipped: () => undefined });
    const handlers = peerHandlers({
      scan: (request, from) => {
        calls.scan! += 1;
        return source.scan(request, from);
      },
      "scan-many": (request, from) => {
        calls["scan-many"]! += 1;
        return source["scan-many"](request, from);
      },
    });
    server = createServer();
    new PeerServer({ token: TOKEN, inFlightMax: 16, log: () => undefined }, handlers).attach(server);
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const peerUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    client = new PeerClient(peerUrl, { token: TOKEN, timeoutMs: 5000, inFlightMax: 16, reconnectDelayMs: 10, from: "n0" });
    if (level !== undefined) client.level = async () => level;

    const members: Member[] = ["n0", "n1"].map((id, i) => ({ id, peerUrl, clientUrl: `http://127.0.0.1:${2 + i}`, incarnation: `inc-${id}`, state: "valid" as const }));
    const ring = {
      ...createRing({ partitions: 16, members, targetN: 2 }),
      pending: SIZES.map((_, partition) => ({ partition, from: "n1", to: "n0", kind: "ownership" as const })),
    };
    const peer = client;
    const cluster: ClusterView = { self: "n0", ring: () => ring, isUp: () => true, phi: () => 0, peer: (id) => (id === "n1" ? peer : undefined) };
    const replica = new LocalReplica(receiving, new HybridClock(), LIMITS, { siblingWarning: () => undefined, siblingRefusal: () => undefined, recordRefusal: () => undefined });
    const errors: string[] = [];
    receiver = new TransferReceiver({
      store: receiving,
      cluster,
      targetN: 2,
      mergePage: async (partition, entries) => {
        await replica.mergeMany(partition, entries.map((entry) => Object.assign(entry, { mode: "siblings" as const })));
      },
      concurrencyMax: 2,
      batchMax: 8,
      pace: async () => undefined,
      onBatch: () => undefined,
      onDone: () => undefined,
      onError: (_p, err) => errors.push(err.message),
      log: () => undefined,
    });
    receiver.onRing(ring);
    const deadline = Date.now() + 10_000;
    while (receiver.list().some((t) => t.state !== "done")) {
      assert.ok(Date.now() < deadline, `transfers still unfinished: ${JSON.stringify(receiver.list().filter((t) => t.state !== "done"))}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.deepEqual(errors, []);
    return { sender, receiving, calls };
  }

  async function assertSameRecords(sender: Store, receiving: Store): Promise<void> {
    for (const [partition, size] of SIZES.entries()) {
      const sent = await sender.scanPartitionRaw(partition, undefined, 1000, 1 << 30);
      const got = await receiving.scanPartitionRaw(partition, undefined, 1000, 1 << 30);
      assert.equal(got.entries.length, size, `partition ${partition} holds every record sent`);
      assert.deepEqual(
        got.entries.map((e) => [e.key.toString(), e.record.toString("hex")]),
        sent.entries.map((e) => [e.key.toString(), e.record.toString("hex")]),
        `partition ${partition} holds the sender's records as stored`,
      );
    }
  }

  it("copies the partitions of a source that serves scan-many in fewer requests than partitions, each record once", async function () {
    const { sender, receiving, calls } = await copyAll();
    await assertSameRecords(sender, receiving);
    assert.equal(calls.scan, 0, "no partition is scanned on its own");
    // Pages of 8 records: at least 13 for the 100 records, and fewer than the 19 that pages of one partition each take.
    const records = SIZES.reduce((a, b) => a + b, 0);
    const onePartitionPages = SIZES.reduce((n, size) => n + Math.max(1, Math.ceil(size / 8)), 0);
    assert.ok(calls["scan-many"]! >= Math.ceil(records / 8), `${calls["scan-many"]} pages`);
    assert.ok(calls["scan-many"]! < onePartitionPages, `${calls["scan-many"]} pages, against ${onePartitionPages} with one partition per page`);
    assert.deepEqual(
      receiver!.list().map((t) => [t.partition, t.keys]),
      SIZES.map((size, partition) => [partition, size]),
      "each transfer counts its own partition's keys",
    );
  });

  it("copies each partition with scan from a source of an earlier version", async function () {
    const { sender, receiving, calls } = await copyAll(2);
    await assertSameRecords(sender, receiving);
    assert.equal(calls["scan-many"], 0, "a source that did not say it serves scan-many is not asked for it");
    assert.ok(calls.scan! >= SIZES.length, `${calls.scan} scans for ${SIZES.length} partitions`);
  });
});
