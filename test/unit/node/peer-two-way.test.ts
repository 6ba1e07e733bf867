// One connection per pair of nodes: a node dialing a peer of a higher id offers its connection for the peer's requests
// too, the peer's client sends on it and retires its own, and both directions' requests share one socket without one
// side's answers reaching the other side's requests. Real sockets and real frames; each "node" here is a peer server
// and a peer client wired the way node/node.ts wires them.
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { PeerClient, PeerServer, RequestNotSentError } from "../../../node/peer/index.js";
import type { PeerHandlers } from "../../../node/protocol/index.js";
import { peerHandlers } from "../../helpers/peer-wire.js";

const TOKEN = "t".repeat(16);

interface TestNode {
  id: string;
  http: Server;
  url: string;
  peer: PeerServer;
  /** Its client for the other node, set by `pair`. */
  client?: PeerClient;
  /** Peer streams accepted by its port, open or closed. */
  accepted: Socket[];
  /** Which node each `leave` it served came from, by generation. */
  served: Map<number, string>;
}

async function startNode(id: string, options: { twoWay?: boolean; handlers?: Partial<PeerHandlers> } = {}): Promise<TestNode> {
  const served = new Map<number, string>();
  const handlers = peerHandlers({
    leave: async ({ header }, from) => {
      served.set(header.generation, from);
      return { header: {} };
    },
    ...options.handlers,
  });
  // The node's client is set after its server is made; the server's adopt reads it then.
  const holder: { node?: TestNode } = {};
  const peer = new PeerServer(
    {
      token: TOKEN,
      inFlightMax: 100,
      log: () => undefined,
      // A node of an earlier version neither accepts nor offers.
      twoWay: options.twoWay === false ? undefined : { self: id, adopt: (from, c) => (holder.node?.client?.peerId === from ? holder.node.client.adopt(c.socket, c.writer, c.compact) : undefined) },
    },
    handlers,
  );
  const http = createServer();
  const accepted: Socket[] = [];
  http.on("upgrade", (_req, socket: Socket) => accepted.push(socket));
  peer.attach(http);
  http.listen(0, "127.0.0.1");
  await once(http, "listening");
  const node: TestNode = { id, http, url: `http://127.0.0.1:${(http.address() as AddressInfo).port}`, peer, accepted, served };
  holder.node = node;
  return node;
}

/** Gives each node a client for the other, serving on its own peer server like a node does. */
function pair(a: TestNode, b: TestNode, options: { aServes?: boolean } = {}): void {
  const client = (self: TestNode, other: TestNode, serves: boolean) =>
    new PeerClient(
      other.url,
      {
        token: TOKEN,
        timeoutMs: 3000,
        inFlightMax: 100,
        reconnectDelayMs: 10,
        from: self.id,
        serve: serves ? (socket, from, writer, compact) => self.peer.serveOn(socket, from, writer, compact) : undefined,
      },
      other.id,
    );
  a.client = client(a, b, options.aServes ?? true);
  b.client = client(b, a, true);
}

/**
 * A node whose `leave` handler records each generation it serves and holds the one given until `release` is called.
 */
async function holdingNode(id: string, held: number): Promise<{ node: TestNode; seen: number[]; release: () => void }> {
  let release: () => void = () => undefined;
  const released = new Promise<void>((resolve) => (release = resolve));
  const seen: number[] = [];
  const node = await startNode(id, {
    handlers: {
      leave: async ({ header }) => {
        seen.push(header.generation);
        if (header.generation === held) await released;
        return { header: {} };
      },
    },
  });
  return { node, seen, release };
}

const open = (node: TestNode) => node.accepted.filter((s) => !s.destroyed).length;

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 3000;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe("one peer connection per pair of nodes", function () {
  let nodes: TestNode[] = [];
  afterEach(function () {
    for (const node of nodes) {
      node.client?.close();
      node.peer.closeAll();
      node.http.closeAllConnections();
      node.http.close();
    }
    nodes = [];
  });

  it("carries both nodes' requests on the lower node's connection, each answer reaching its own request", async function () {
    const a = await startNode("node-a");
    const b = await startNode("node-b");
    nodes = [a, b];
    pair(a, b);
    // Both clients number their requests from 1, so the same ids go both ways on the one connection at once.
    const calls: Promise<unknown>[] = [];
    for (let g = 1; g <= 50; g++) calls.push(a.client!.call("leave", { header: { generation: g } }));
    await Promise.all(calls);
    for (let g = 101; g <= 150; g++) calls.push(b.client!.call("leave", { header: { generation: g } }), a.client!.call("leave", { header: { generation: g + 100 } }));
    await Promise.all(calls);
    assert.equal(b.accepted.length, 1, "node-a opened one connection to node-b");
    assert.equal(a.accepted.length, 0, "node-b never opened a connection of its own to node-a");
    for (let g = 101; g <= 150; g++) {
      assert.equal(a.served.get(g), "node-b", `node-a served node-b's request ${g}`);
      assert.equal(b.served.get(g + 100), "node-a", `node-b served node-a's request ${g + 100}`);
    }
  });

  it("moves the higher node's requests to the lower one's connection and ends its own once answered", async function () {
    const a = await startNode("node-a");
    const b = await startNode("node-b");
    nodes = [a, b];
    pair(a, b);
    // node-b needs node-a first and opens its own connection (it offers none: node-a's id is lower).
    await b.client!.call("leave", { header: { generation: 1 } });
    assert.equal(a.accepted.length, 1);
    await a.client!.call("leave", { header: { generation: 2 } });
    await b.client!.call("leave", { header: { generation: 3 } });
    assert.equal(a.served.get(3), "node-b");
    await until(() => open(a) === 0, "node-b's own connection ended");
    assert.equal(b.accepted.length, 1);
    assert.equal(open(b), 1, "the lower node's connection carries both directions");
  });

  it("keeps a connection each way with a peer of an earlier version", async function () {
    const a = await startNode("node-a", { twoWay: false });
    const b = await startNode("node-b", { twoWay: false });
    nodes = [a, b];
    pair(a, b);
    await a.client!.call("leave", { header: { generation: 1 } });
    await b.client!.call("leave", { header: { generation: 2 } });
    assert.equal(b.accepted.length, 1);
    assert.equal(a.accepted.length, 1, "node-b opened its own connection");
    assert.equal(a.served.get(2), "node-b");
  });

  it("answers a peer's request with an error while nothing serves on this node yet, never with silence", async function () {
    const a = await startNode("node-a");
    const b = await startNode("node-b");
    nodes = [a, b];
    pair(a, b);
    a.client = new PeerClient(b.url, { token: TOKEN, timeoutMs: 3000, inFlightMax: 100, reconnectDelayMs: 10, from: a.id, serve: () => undefined }, b.id);
    await a.client.call("leave", { header: { generation: 1 } });
    await assert.rejects(b.client!.call("leave", { header: { generation: 2 } }), /does not serve peer requests yet/);
  });

  it("fails the higher node's requests on a lost connection as unknown, and reaches the peer again on its own", async function () {
    const { node: a, seen, release } = await holdingNode("node-a", 2);
    const b = await startNode("node-b");
    nodes = [a, b];
    pair(a, b);
    await a.client!.call("leave", { header: { generation: 1 } });
    const waiting = b.client!.call("leave", { header: { generation: 2 } });
    await until(() => seen.includes(2), "node-a took node-b's request");
    a.client!.reset();
    await assert.rejects(waiting, (err: Error) => {
      assert.ok(!(err instanceof RequestNotSentError), "a request that went out may have been acted on");
      assert.match(err.message, /lost/);
      return true;
    });
    release();
    await b.client!.call("leave", { header: { generation: 3 } });
    assert.equal(a.accepted.length, 1, "node-b opened a connection of its own once node-a's was gone");
  });

  it("tells the higher node which of its requests a stopping lower node never read", async function () {
    const { node: a, seen, release } = await holdingNode("node-a", 2);
    const b = await startNode("node-b");
    nodes = [a, b];
    pair(a, b);
    await a.client!.call("leave", { header: { generation: 1 } });
    const first = b.client!.call("leave", { header: { generation: 2 } });
    await until(() => seen.includes(2), "node-a took node-b's first request");
    // node-a stops: its peer server goes away on every stream it serves, the one it opened included.
    const closing = a.peer.goAway(3000);
    await assert.rejects(b.client!.call("leave", { header: { generation: 3 } }), (err: unknown) => {
      assert.ok(err instanceof RequestNotSentError, `a request the peer never read fails as not sent, not as ${String(err)}`);
      return true;
    });
    release();
    assert.deepEqual((await first).header, {}, "the request it read still gets its answer");
    await closing;
    assert.deepEqual(seen, [2], "node-b's second request reached no handler");
  });
});
