// The peer link's writer: the frames of one event-loop turn leave in one write, in order, and ending the stream right
// after a write still sends that frame (a stopping node writes its going-away frame and ends at once). Real sockets.
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, connect, type AddressInfo, type Server, type Socket } from "node:net";
import { coalescingWriter } from "../../../node/peer/coalesce.js";

describe("the peer link's frame writer", function () {
  let server: Server | undefined;
  let sockets: Socket[] = [];
  afterEach(function () {
    for (const socket of sockets) socket.destroy();
    sockets = [];
    server?.close();
  });

  /** A connected pair: what the writer writes to, and the far end that collects every byte until it sees the end. */
  async function pair(): Promise<{ near: Socket; received: Promise<Buffer> }> {
    server = createServer();
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const accepted = once(server, "connection") as Promise<[Socket]>;
    const near = connect((server.address() as AddressInfo).port, "127.0.0.1");
    await once(near, "connect");
    const [far] = await accepted;
    sockets.push(near, far);
    const chunks: Buffer[] = [];
    far.on("data", (chunk: Buffer) => chunks.push(chunk));
    const received = once(far, "end").then(() => Buffer.concat(chunks));
    return { near, received };
  }

  it("writes the frames of one turn once, in the order they were written", async function () {
    const { near, received } = await pair();
    const writes: number[] = [];
    const write = near.write.bind(near);
    near.write = ((chunk: Buffer) => {
      writes.push(chunk.length);
      return write(chunk);
    }) as typeof near.write;
    const writer = coalescingWriter(near);
    writer.write(Buffer.from("one,"));
    writer.write(Buffer.from("two,"));
    writer.write(Buffer.from("three"));
    assert.deepEqual(writes, [], "nothing leaves before the end of the turn");
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(writes, [13], "the turn's three frames leave as one write");
    writer.write(Buffer.from(";four"));
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(writes, [13, 5], "a lone frame leaves as it is");
    near.end();
    assert.equal((await received).toString(), "one,two,three;four");
  });

  it("sends a frame written just before the stream is ended", async function () {
    const { near, received } = await pair();
    const writer = coalescingWriter(near);
    writer.write(Buffer.from("going away"));
    writer.end();
    assert.equal((await received).toString(), "going away");
  });
});
