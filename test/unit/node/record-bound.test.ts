import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseNodeConfig } from "../../../node/config/index.js";
import { DynamoError } from "../../../node/errors/index.js";
import { HintDelivery, HintStore } from "../../../node/handoff/index.js";
import { PeerClient, PeerServer } from "../../../node/peer/index.js";
import { peerHandlers } from "../../helpers/peer-wire.js";
import { LocalReplica, type ReplicaKey } from "../../../node/replication/index.js";
import { createRing } from "../../../node/ring/index.js";
import { Store } from "../../../node/storage/index.js";
import { encodedRecordBytes, HybridClock, update } from "../../../node/versioning/index.js";
import type { VersionedRecord } from "../../../node/versioning/types.js";
import { openTempStore, removeTempStore, type TempStore } from "../../helpers/temp-store.js";

const KIB = 1024;
const LIMITS = { siblingsWarn: 25, siblingsMax: 100, recordBytesMax: 64 * KIB };

function blind(actor: string, bytes: number, fill: number, base?: VersionedRecord): VersionedRecord {
  return update(base, {}, { value: Buffer.alloc(bytes, fill), contentType: "application/octet-stream", timestamp: { ms: 1, logical: fill } }, actor);
}

describe("configuration of record limits", function () {
  it("refuses a value limit no record could replicate (the 64 MiB value once accepted)", function () {
    assert.throws(() => parseNodeConfig({ tuning: { valueMaxBytes: 64 * 1024 * KIB } }), /valueMaxBytes/);
    assert.throws(() => parseNodeConfig({ tuning: { valueMaxBytes: 8 * 1024 * KIB } }), /recordBytesMax/);
  });

  it("refuses a record limit past what a peer frame carries, naming it", function () {
    assert.throws(() => parseNodeConfig({ tuning: { recordBytesMax: 32 * 1024 * KIB } }), /recordBytesMax: .*fits in a peer frame/);
  });

  it("takes a record limit with room for the largest value", function () {
    const config = parseNodeConfig({ tuning: { valueMaxBytes: 4 * 1024 * KIB, recordBytesMax: 16 * 1024 * KIB } });
    assert.equal(config.tuning.recordBytesMax, 16 * 1024 * KIB);
    assert.equal(parseNodeConfig({}).tuning.recordBytesMax, 8 * 1024 * KIB);
  });
});

describe("the record bound", function () {
  let temp: TempStore;
  let store: Store;
  let refusals: { bytes: number; merge: boolean }[];
  let replica: LocalReplica;
  const at: ReplicaKey = { partition: 1, bucket: "default", key: Buffer.from("hot") };

  beforeEach(async function () {
    temp = await openTempStore("dynamo-record-bound-");
    store = temp.store;
    refusals = [];
    replica = new LocalReplica(store, new HybridClock(), LIMITS, {
      siblingWarning: () => undefined,
      siblingRefusal: () => undefined,
      recordRefusal: (_at, bytes, merge) => refusals.push({ bytes, merge }),
    });
  });
  afterEach(() => removeTempStore(temp));

  it("refuses a blind write that would take the record past recordBytesMax, and takes one that resolves it", async function () {
    const write = () => replica.coordinate(at, "siblings", {}, { value: Buffer.alloc(20 * KIB, 1), contentType: "x" });
    for (let i = 0; i < 3; i++) await write();
    await assert.rejects(write(), (err: DynamoError) => err.code === "record_too_large" && /65536-byte record limit \(recordBytesMax\)/.test(err.message));
    assert.equal(refusals.length, 1);
    const stored = (await replica.read(at))!;
    assert.equal(stored.siblings.length, 3);
    assert.ok(encodedRecordBytes(stored) <= LIMITS.recordBytesMax);
    const { record: resolved } = await replica.coordinate(at, "siblings", stored.clock, { value: Buffer.from("merged"), contentType: "x" });
    assert.equal(resolved.siblings.length, 1);
  });

  it("merges another replica's versions up to twice the bound, and keeps its own past that", async function () {
    let mine: VersionedRecord | undefined;
    for (let i = 0; i < 3; i++) mine = blind("a", 20 * KIB, i, mine);
    await replica.merge(at, "siblings", mine!);
    let theirs: VersionedRecord | undefined;
    for (let i = 0; i < 3; i++) theirs = blind("b", 20 * KIB, 10 + i, theirs);
    const within = await replica.merge(at, "siblings", theirs!);
    assert.equal(within.changed, true, "120 KiB is within the 128 KiB replication ceiling");
    let more: VersionedRecord | undefined;
    for (let i = 0; i < 2; i++) more = blind("c", 20 * KIB, 20 + i, more);
    await assert.rejects(replica.merge(at, "siblings", more!), (err: DynamoError) => err.code === "record_too_large");
    assert.equal((await replica.read(at))!.siblings.length, 6, "the local version is kept whole");
    const page = await replica.mergeMany(1, [{ bucket: at.bucket, key: at.key, record: more!, mode: "siblings" }]);
    assert.equal(page, 0);
    assert.deepEqual(refusals.map((r) => r.merge), [true, true]);
  });
});

describe("hints refused for good", function () {
  let dirs: string[];
  let server: Server;
  let replicateCalls: number;

  afterEach(function () {
    server?.closeAllConnections();
    server?.close();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it("are given up once instead of being resent forever", async function () {
    dirs = [mkdtempSync(join(tmpdir(), "dynamo-hint-a-")), mkdtempSync(join(tmpdir(), "dynamo-hint-b-"))];
    const [sender, owner] = [new Store(dirs[0]!), new Store(dirs[1]!)];
    await sender.open();
    await owner.open();
    const events = { siblingWarning: () => undefined, siblingRefusal: () => undefined, recordRefusal: () => undefined };
    const ownerReplica = new LocalReplica(owner, new HybridClock(), LIMITS, events);
    const at: ReplicaKey = { partition: 2, bucket: "default", key: Buffer.from("big") };
    let ownersVersion: VersionedRecord | undefined;
    for (let i = 0; i < 5; i++) ownersVersion = blind("o", 20 * KIB, i, ownersVersion);
    await ownerReplica.merge(at, "siblings", ownersVersion!);

    // The owner's peer port, serving replicate from its replica; other ops are never called here.
    replicateCalls = 0;
    const handlers = peerHandlers({
      replicate: async ({ header, body }) => {
        replicateCalls += 1;
        const { hintFor: _hintFor, ...key } = header;
        return { header: { changed: (await ownerReplica.mergeReceived(key, "siblings", body)).changed } };
      },
    });
    const token = "t".repeat(16);
    server = createServer();
    new PeerServer({ token, inFlightMax: 10, log: () => undefined }, handlers).attach(server);
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const client = new PeerClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, { token, timeoutMs: 2000, inFlightMax: 10, reconnectDelayMs: 10, from: "sender" });

    // The sender holds the key as a stand-in with versions of its own that the owner cannot take on top of its own.
    let sendersVersion: VersionedRecord | undefined;
    for (let i = 0; i < 5; i++) sendersVersion = blind("s", 20 * KIB, 50 + i, sendersVersion);
    await sender.put(at.partition, at.bucket, at.key, sendersVersion!);
    const hints = new HintStore(sender, { countMax: 100, bytesMax: 1 << 30 }, { refused: () => undefined });
    await hints.load();
    assert.ok(await hints.add({ owner: "owner", ...at, bytes: 100 * KIB }));
    const dropped: string[] = [];
    // The owner is still a ring member, so its hints go to it rather than to the partition's current replicas.
    const members = ["sender", "owner"].map((id) => ({ id, peerUrl: `http://127.0.0.1:1/${id}`, clientUrl: "http://127.0.0.1:2", incarnation: "i", state: "valid" as const }));
    const ring = createRing({ partitions: 8, members, targetN: 2 });
    const delivery = new HintDelivery({
      store: sender,
      hints,
      cluster: { self: "sender", ring: () => ring, isUp: () => true, phi: () => 0, peer: () => client },
      isReplica: () => false,
      targetN: 2,
      intervalMs: 1000,
      batchMax: 10,
      concurrencyMax: 2,
      onDelivered: () => undefined,
      onDropped: (_ref, reason) => dropped.push(reason),
      log: () => undefined,
    });
    for (let round = 0; round < 3; round++) await delivery.runOnce();
    client.close();
    assert.equal(replicateCalls, 1, "sent once, not once per round");
    assert.equal(dropped.length, 1);
    assert.match(dropped[0]!, /replication ceiling/);
    assert.equal(hints.stats().count, 0);
    assert.ok(await sender.get(at.partition, at.bucket, at.key), "the stand-in keeps its copy");
    await sender.close();
    await owner.close();
  });
});
