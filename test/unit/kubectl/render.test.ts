import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { colourWanted, progressBar, style } from "../../../lib/terminal.js";
import { advice, redact, renderRing, renderStatus, ringJson, tar, type StatusModel } from "../../../kubectl/index.js";
import type { NodeStats } from "../../../node/stats/index.js";

const NOW = Date.parse("2026-11-30T10:00:00Z");

function stats(id: string, extra: Partial<NodeStats> = {}): NodeStats {
  return {
    id,
    incarnation: `inc-${id}`,
    epoch: 6,
    ready: true,
    uptimeSeconds: 100,
    disk: { dataBytes: 5 * 1024 * 1024, freeBytes: 50e9, capacityBytes: 100e9 },
    memory: { rssBytes: 1, heapUsedBytes: 1 },
    eventLoopLagMs: { p50: 1, p99: 3, max: 5 },
    rates: { windowSeconds: 10, opsPerSecond: { get: 10, put: 5, delete: 0, total: 15 }, errorsPerSecond: 0, latencyMs: { get: { p50: 1, p99: 4 }, put: { p50: 2, p99: 6 }, delete: {} } },
    hints: { count: 0, bytes: 0, byTarget: {} },
    antiEntropy: { windowSeconds: 3600, exchanges: 360, repaired: 2, failed: 0, keysRepaired: 5 },
    rebuildingPartitions: 0,
    transfers: [],
    history: [],
    ...extra,
  };
}

function model(extra: Partial<StatusModel> = {}): StatusModel {
  const member = (id: string, partitions: number, s?: NodeStats) => ({
    id,
    pod: id,
    node: "node-a",
    zone: "zone-1",
    incarnation: `inc-${id}`,
    ringState: "valid",
    condition: "up" as const,
    partitions,
    idealPartitions: 5.3,
    ready: true,
    stats: s,
    error: undefined,
  });
  return {
    name: "kv",
    namespace: "apps",
    spec: { replicas: 3, partitions: 16, paused: false },
    phase: "Rebalancing",
    epoch: 6,
    readyReplicas: 3,
    message: "rebalancing the ring towards 3 members: moved 1/4 partitions",
    conditions: [
      { type: "Available", status: "True", lastTransitionTime: "", reason: "QuorumReady", message: "3 ready ring members" },
      { type: "Degraded", status: "False", lastTransitionTime: "", reason: "Healthy", message: "every ring member answers" },
    ],
    rebalance: { epoch: 6, partitionsTotal: 4, partitionsMoved: 1, bytesMoved: 1024, bytesPerSecond: 512, etaSeconds: 6, startTime: "2026-11-30T09:59:58Z", progress: "25%" },
    members: [
      member("kv-0", 6, stats("kv-0", { hints: { count: 3, bytes: 300, byTarget: { "kv-2": { count: 3, bytes: 300 } } } })),
      member("kv-1", 5, stats("kv-1", { transfers: [{ partition: 1, from: "kv-0", to: "kv-1", kind: "ownership", state: "active", keys: 1, bytes: 10 }] })),
      member("kv-2", 5, undefined),
    ],
    ring: {
      epoch: 6,
      partitions: 16,
      owners: Array.from({ length: 16 }, (_, i) => ["kv-0", "kv-1", "kv-2"][i % 3]!),
      pending: [
        { partition: 0, from: "kv-0", to: "kv-2", kind: "ownership" },
        { partition: 1, from: "kv-0", to: "kv-1", kind: "ownership" },
      ],
      members: [],
    },
    events: [{ type: "Normal", reason: "RebalanceStarted", message: "ring epoch 6: moving 4 partitions", lastTimestamp: "2026-11-30T09:59:00Z" }],
    observedAt: NOW,
    ...extra,
  };
}

const ESC = "\u001b[";

describe("kubectl dynamo: screens", () => {
  it("status tells the whole story without colour when colour is off", () => {
    const text = renderStatus(model(), style(false));
    assert.ok(!text.includes(ESC), "no escape sequences");
    for (const expected of [
      "Cluster kv (namespace apps)  phase Rebalancing  ring epoch 6",
      "Rebalance in flight (ring epoch 6)",
      "[########......................]  25%  moved 1/4 partitions, 1.0 KiB at 512 B/s, ETA 6s",
      "MEMBER  ZONE    NODE    INCARNATION  STATE  PARTITIONS  IDEAL  DISK                OPS/S  P99 MS  LAG MS",
      "kv-0    zone-1  node-a  inc-kv-0     up     6           5.3    5.0 MiB (50% free)  15.0   6.0     3.0",
      "kv-0     kv-2  3      300 B",
      "kv-2    zone-1  node-a  inc-kv-2     up     5           5.3    -                   -      -       -",
      "kv-0    360        2         5              0",
      "1m  Normal  RebalanceStarted  ring epoch 6: moving 4 partitions",
      "nothing: the cluster is healthy",
    ]) {
      assert.ok(text.includes(expected), `missing ${JSON.stringify(expected)} in:\n${text}`);
    }
  });

  it("status colours states when colour is on", () => {
    const text = renderStatus(model(), style(true));
    assert.ok(text.includes(`${ESC}32mup${ESC}0m`));
  });

  it("colour is on only at a terminal and never with NO_COLOR", () => {
    assert.equal(colourWanted({ isTTY: true }, {}), true);
    assert.equal(colourWanted({ isTTY: false }, {}), false);
    assert.equal(colourWanted({ isTTY: true }, { NO_COLOR: "1" }), false);
    assert.equal(colourWanted({ isTTY: true }, { TERM: "dumb" }), false);
    assert.equal(progressBar(0.5, 10), "[#####.....]  50%");
  });

  it("advises what to do when a member is down, a disk nearly full, or the cluster paused", () => {
    const m = model({ spec: { replicas: 3, partitions: 16, paused: true } });
    m.members[2]!.condition = "down";
    m.members[0]!.stats!.disk = { dataBytes: 1, freeBytes: 5, capacityBytes: 100 };
    const lines = advice(m);
    assert.ok(lines.some((l) => l.startsWith("kv-2 is down: kubectl describe pod kv-2 -n apps") && l.includes("kubectl dynamo replace kv-2 -n apps")), lines.join("\n"));
    assert.ok(lines.some((l) => l.includes("kv-0's volume is over 90% full")));
    assert.ok(lines.some((l) => l.includes("kubectl dynamo resume kv -n apps")));
  });

  it("draws the ring as owner cells with moves marked, and gives the same as JSON", () => {
    const text = renderRing(model(), style(false));
    const lines = text.split("\n");
    assert.equal(lines[2], " 0 a>b*c a b c a b c a b c a b c a ");
    assert.ok(text.includes("a  kv-0  up  6 partitions  ideal 5.3"), text);
    const json = ringJson(model()) as { owners: string[]; moves: { partition: number; state: string }[]; members: { id: string; partitions: number }[] };
    assert.equal(json.owners.length, 16);
    assert.deepEqual(json.moves.map((m) => [m.partition, m.state]), [[0, "waiting"], [1, "active"]]);
    assert.deepEqual(json.members.map((m) => m.partitions), [6, 5, 5]);
  });

  it("a report redacts Secret values, credential-like environment values and kubectl's last-applied copy", () => {
    const secret = redact({ kind: "Secret", metadata: { annotations: { "kubectl.kubernetes.io/last-applied-configuration": "{token: hunter2}" } }, data: { token: "aHVudGVyMg==" } });
    assert.ok(!JSON.stringify(secret).includes("aHVudGVyMg"));
    assert.ok(!JSON.stringify(secret).includes("hunter2"));
    const pods = redact({ items: [{ spec: { containers: [{ env: [{ name: "API_TOKEN", value: "hunter2" }, { name: "DYNAMO_TOKEN_FILE", value: "/etc/dynamo/token" }, { name: "DYNAMO_ID", value: "kv-0" }] }] } }] });
    const text = JSON.stringify(pods);
    assert.ok(!text.includes("hunter2"));
    assert.ok(text.includes("/etc/dynamo/token") && text.includes("kv-0"), "paths and ordinary values stay");
  });

  it("writes a tar archive that tar reads back", () => {
    const dir = mkdtempSync(join(tmpdir(), "tools-tar-"));
    try {
      const path = join(dir, "bundle.tar.gz");
      const long = `report/${"n".repeat(60)}/${"f".repeat(60)}.json`;
      writeFileSync(path, gzipSync(tar([{ name: "report/status.txt", content: Buffer.from("hello\n") }, { name: long, content: Buffer.alloc(700, "x") }])));
      const listed = spawnSync("tar", ["tzf", path], { encoding: "utf8" });
      assert.equal(listed.status, 0, listed.stderr);
      assert.deepEqual(listed.stdout.trim().split("\n"), ["report/status.txt", long]);
      const cat = spawnSync("tar", ["xzOf", path, "report/status.txt"], { encoding: "utf8" });
      assert.equal(cat.stdout, "hello\n");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
