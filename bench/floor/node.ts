/**
 * One process of the benchmark's floor: the cheapest thing with the store's shape. It serves the Client HTTP API's
 * paths on a client port and, for each request, sends one small frame to each of its two peers over a persistent,
 * pipelined TCP connection and answers the client once both have replied: a read gets a fixed 1 KiB value back, a
 * write is acknowledged. No storage, no versioning, no quorum logic. Whatever the store does beyond this costs
 * throughput, so store/floor says how close the store comes to what this machine allows for its message pattern.
 *
 * Run by bench/floor/cluster.ts through child_process.fork, which gives it an IPC channel:
 *   child -> parent  {type: "listening", clientUrl, peerPort}
 *   parent -> child  {type: "peers", peerPorts: number[]}
 *   child -> parent  {type: "ready"}
 * The process exits when the channel closes, so a crashed benchmark leaves nothing behind.
 */
import http from "node:http";
import net from "node:net";
import { parseArgs } from "node:util";

const HOST = "127.0.0.1";
const OP_READ = 0;
const OP_WRITE = 1;
/** Frames in flight per peer connection; the closed-loop load never comes close, but a queue needs a bound. */
const IN_FLIGHT_MAX = 4096;
/** Largest frame accepted, well above a 1 KiB value; anything bigger means a corrupt stream. */
const FRAME_BYTES_MAX = 16 * 1024 * 1024;
/** Stands in for the store's context header, so a read-modify-write client sees the same protocol shape. */
const FLOOR_CONTEXT = "floor";

const { values: flags } = parseArgs({ options: { "value-bytes": { type: "string", default: "1024" } } });
const VALUE = Buffer.alloc(Number(flags["value-bytes"]), 0x61);

/**
 * Splits a byte stream into frames: u32 length of what follows | u32 id | u8 op (requests only) | payload.
 * Calls `onFrame(id, rest)` with everything after the id.
 */
function frameReader(onFrame: (id: number, rest: Buffer) => void): (chunk: Buffer) => void {
  let pending: Buffer = Buffer.alloc(0);
  return (chunk) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= 4) {
      const length = pending.readUInt32BE(0);
      if (length < 4 || length > FRAME_BYTES_MAX) throw new Error(`corrupt frame length ${length}`);
      if (pending.length < 4 + length) break;
      onFrame(pending.readUInt32BE(4), pending.subarray(8, 4 + length));
      pending = pending.subarray(4 + length);
    }
  };
}

function frame(id: number, head: Buffer | undefined, body: Buffer): Buffer {
  const headLength = head?.length ?? 0;
  const out = Buffer.allocUnsafe(8 + headLength + body.length);
  out.writeUInt32BE(4 + headLength + body.length, 0);
  out.writeUInt32BE(id, 4);
  if (head) head.copy(out, 8);
  body.copy(out, 8 + headLength);
  return out;
}

/** The replica side: answers every frame at once, a read with the value, a write with an empty acknowledgement. */
function servePeers(socket: net.Socket): void {
  socket.setNoDelay(true);
  const read = frameReader((id, rest) => {
    socket.write(frame(id, undefined, rest[0] === OP_READ ? VALUE : Buffer.alloc(0)));
  });
  socket.on("data", (chunk: Buffer) => {
    try {
      read(chunk);
    } catch {
      socket.destroy();
    }
  });
  socket.on("error", () => socket.destroy());
}

/** The coordinator side of one peer link: one connection, requests matched to replies by id. */
class PeerLink {
  readonly #socket: net.Socket;
  readonly #pending = new Map<number, (reply: Buffer) => void>();
  #nextId = 0;

  constructor(port: number) {
    this.#socket = net.connect({ host: HOST, port });
    this.#socket.setNoDelay(true);
    const read = frameReader((id, rest) => {
      const resolve = this.#pending.get(id);
      this.#pending.delete(id);
      resolve?.(rest);
    });
    this.#socket.on("data", (chunk: Buffer) => read(chunk));
    this.#socket.on("error", (error) => {
      process.stderr.write(`floor: peer link to port ${port} failed: ${error.message}\n`);
      process.exit(1);
    });
  }

  connected(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#socket.once("connect", resolve);
      this.#socket.once("error", reject);
    });
  }

  send(op: number, body: Buffer): Promise<Buffer> {
    if (this.#pending.size >= IN_FLIGHT_MAX) return Promise.reject(new Error("too many requests in flight"));
    const id = this.#nextId;
    this.#nextId = (this.#nextId + 1) >>> 0;
    return new Promise((resolve) => {
      this.#pending.set(id, resolve);
      this.#socket.write(frame(id, Buffer.of(op), body));
    });
  }
}

let peers: PeerLink[] = [];

function collect(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

async function handleClient(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = req.url ?? "";
  if (url === "/readyz" || url === "/healthz") {
    res.writeHead(peers.length > 0 ? 200 : 503).end();
    return;
  }
  if (!url.startsWith("/v1/kv/")) {
    res.writeHead(404, { "content-type": "application/json" }).end('{"error":"not_found","message":"no such route"}');
    return;
  }
  const body = await collect(req);
  const isRead = req.method === "GET";
  // A read sends the key, like the store's fetch; a write sends the value, like the store's replicated record.
  const payload = isRead ? Buffer.from(url) : body;
  const replies = await Promise.all(peers.map((peer) => peer.send(isRead ? OP_READ : OP_WRITE, payload)));
  if (isRead) {
    const value = replies[0] ?? VALUE;
    res.writeHead(200, {
      "content-type": "application/octet-stream",
      "content-length": value.length,
      "x-dynamo-context": FLOOR_CONTEXT,
    });
    res.end(value);
  } else {
    res.writeHead(204, { "x-dynamo-context": FLOOR_CONTEXT }).end();
  }
}

const clientServer = http.createServer((req, res) => {
  handleClient(req, res).catch((error: Error) => {
    res.writeHead(503, { "content-type": "application/json" });
    res.end(JSON.stringify({ error: "unavailable", message: error.message }));
  });
});
const peerServer = net.createServer(servePeers);

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, HOST, () => resolve((server.address() as net.AddressInfo).port)));
}

function send(message: object): void {
  if (process.send) process.send(message);
}

const [clientPort, peerPort] = await Promise.all([listen(clientServer), listen(peerServer)]);

process.on("message", (message: { type?: string; peerPorts?: number[] }) => {
  if (message.type !== "peers" || !Array.isArray(message.peerPorts)) return;
  const links = message.peerPorts.map((port) => new PeerLink(port));
  Promise.all(links.map((link) => link.connected())).then(
    () => {
      peers = links;
      send({ type: "ready" });
    },
    (error: Error) => {
      process.stderr.write(`floor: cannot reach peers: ${error.message}\n`);
      process.exit(1);
    },
  );
});
process.on("disconnect", () => process.exit(0));

send({ type: "listening", clientUrl: `http://${HOST}:${clientPort}`, peerPort });
