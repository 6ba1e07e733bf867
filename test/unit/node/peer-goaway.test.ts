// A node that stops closes its peer streams gracefully: it tells each caller how many of its requests it read, so a
// request that was still in the socket's buffer fails as "not sent" (the coordinator may then send a forwarded write
// to another replica) instead of as a lost connection, which leaves a write in doubt. Real sockets, real frames.
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { PeerClient, PeerServer, RequestNotSentError } from "../../../node/peer/index.js";
import { peerHandlers } from "../../helpers/peer-wire.js";

describe("a peer stream closed by a stopping node", function () {
  let server: Server | undefined;
  let client: PeerClient | undefined;
  afterEach(function () {
    client?.close();
    server?.closeAllConnections();
    server?.close();
  });

  it("fails the requests it never read as not sent, and still answers the ones it read", async function () {
    const token = "t".repeat(16);
    const seen: number[] = [];
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    const handlers = peerHandlers({
      leave: async ({ header }) => {
        seen.push(header.generation);
        if (header.generation === 1) await released;
        return { header: {} };
      },
    });
    const peer = new PeerServer({ token, inFlightMax: 10, log: () => undefined }, handlers);
    server = createServer();
    peer.attach(server);
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    client = new PeerClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, { token, timeoutMs: 5000, inFlightMax: 10, reconnectDelayMs: 10, from: "caller" });

    // The first request is read and held in its handler.
    const first = client.call("leave", { header: { generation: 1 } });
    while (seen.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    // The node starts to go away just as the second request is sent: the stream reads it no more.
    const closing = peer.goAway(3000);
    const second = client.call("leave", { header: { generation: 2 } });
    await assert.rejects(second, (err: unknown) => {
      assert.ok(err instanceof RequestNotSentError, `a request the peer never read fails as not sent, not as ${String(err)}`);
      assert.match((err as Error).message, /shutting down and never read 'leave'/);
      return true;
    });
    release();
    assert.deepEqual((await first).header, {}, "the request it read still gets its answer");
    await closing;
    assert.deepEqual(seen, [1], "the second request reached no handler");

    // New requests go out on a new connection rather than on the retired one.
    assert.deepEqual((await client.call("leave", { header: { generation: 3 } })).header, {});
    assert.deepEqual(seen, [1, 3]);
  });
});
