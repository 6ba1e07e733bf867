/**
 * Framing of the peer protocol. After an authenticated upgrade, both directions of the connection carry frames:
 *
 *   u32 length (of everything after this field) | u32 request id | u8 kind | u16 header length | header | body
 *
 * The header (JSON, or for a few operations a compact binary form, see ./peer-ops.ts) carries the small, typed fields of a message (./peer-ops.ts says which, per operation); the body
 * carries bytes such as encoded records untouched, so a record read from disk crosses the network without being
 * decoded and re-encoded. This layer only cuts the stream into frames: a length that cannot be right means the stream
 * itself is corrupt and the connection is closed, while what a header or body says is judged per frame, one level up,
 * so a bad message costs an error reply rather than the connection.
 */
import { DynamoError } from "../errors/index.js";

export const FRAME_REQUEST = 0;
export const FRAME_OK = 1;
export const FRAME_ERROR = 2;
/**
 * Sent by a node that is about to close a peer connection (it is shutting down), with id 0, which no request uses: its
 * header says how many request frames it read on this connection (`{"read": n}`). It reads no more, so the sender
 * knows that every request after the n-th never reached a handler and may go to another node, where a connection lost
 * without it would leave every unanswered request in doubt. A peer of an earlier version ignores it, as any frame
 * whose id matches none of its requests.
 */
export const FRAME_GOAWAY = 3;
export const GOAWAY_FRAME_ID = 0;

/** No frame may exceed this; a larger length prefix means a corrupt or hostile stream, and the socket is closed. */
export const FRAME_BYTES_MAX = 64 * 1024 * 1024;
/**
 * Records are bounded so that whatever carries them fits in a frame: a replicated record (up to twice the configured
 * `recordBytesMax`, see node/replication/replica.ts) and a partition page (SCAN_PAGE_BYTES_MAX plus one such record).
 * `recordBytesMax` may therefore be at most RECORD_BYTES_MAX_LIMIT; configuration validation refuses more.
 */
export const SCAN_PAGE_BYTES_MAX = 4 * 1024 * 1024;
export const RECORD_BYTES_MAX_LIMIT = 16 * 1024 * 1024;

/** The header length field is a u16. */
export const FRAME_HEADER_BYTES_MAX = 0xffff;
/** Bytes of a frame other than its header and body: length, id, kind, header length. */
export const FRAME_OVERHEAD_BYTES = 4 + 4 + 1 + 2;

export interface Frame {
  id: number;
  kind: number;
  /** The header's JSON text, still unparsed: parsing and validation belong to the message layer. */
  header: Buffer;
  body: Buffer;
}

/** Bytes `frameBody` reserves before a body for the frame's prefix: the fixed fields and a header up to about 4 KiB. */
const BODY_HEADROOM_BYTES = 4096;
/** Bodies made by `frameBody`, whose headroom `encodeFrame` may write into. */
const withHeadroom = new WeakSet<Buffer>();

/**
 * A buffer for a large body (a page of records) with room before it for its frame's prefix, so `encodeFrame` writes
 * the prefix there instead of copying the body into a new buffer: a scale-out's senders spent a third of their
 * copying on that second copy of every page, and the collector more on the garbage.
 */
export function frameBody(size: number): Buffer {
  const body = Buffer.allocUnsafeSlow(BODY_HEADROOM_BYTES + size).subarray(BODY_HEADROOM_BYTES);
  withHeadroom.add(body);
  return body;
}

/**
 * Encodes one frame. A header or a whole frame over its limit is refused here, before anything is written, with an
 * error the caller can answer or report: sending it would make the other side close the connection.
 */
export function encodeFrame(id: number, kind: number, header: object | Buffer, body?: Buffer): Buffer {
  const headerBytes = Buffer.isBuffer(header) ? header : Buffer.from(JSON.stringify(header), "utf8");
  if (headerBytes.length > FRAME_HEADER_BYTES_MAX) {
    throw new DynamoError("internal", `a peer message header of ${headerBytes.length} bytes exceeds the ${FRAME_HEADER_BYTES_MAX}-byte limit`);
  }
  const bodyLength = body ? body.length : 0;
  const length = FRAME_OVERHEAD_BYTES - 4 + headerBytes.length + bodyLength;
  if (4 + length > FRAME_BYTES_MAX) {
    throw new DynamoError("value_too_large", `a peer frame of ${4 + length} bytes exceeds the ${FRAME_BYTES_MAX}-byte frame limit`);
  }
  const prefixLength = FRAME_OVERHEAD_BYTES + headerBytes.length;
  // A body's headroom serves one frame: a second frame of the same body copies it, rather than rewrite the prefix of
  // a frame that may still wait in a socket's queue.
  const inPlace = body !== undefined && prefixLength <= BODY_HEADROOM_BYTES && withHeadroom.delete(body);
  const out = inPlace ? Buffer.from(body.buffer, body.byteOffset - prefixLength, 4 + length) : Buffer.allocUnsafe(4 + length);
  out.writeUInt32BE(length, 0);
  out.writeUInt32BE(id, 4);
  out[8] = kind;
  out.writeUInt16BE(headerBytes.length, 9);
  headerBytes.copy(out, 11);
  if (body && !inPlace) body.copy(out, prefixLength);
  return out;
}

/** Accumulates socket chunks and yields whole frames; throws on a corrupt stream (a length that cannot be right). */
export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** The bytes of the incomplete frame at the head of `chunks`, once its length is known; 0 before. */
  private awaited = 0;

  push(read: Buffer): Frame[] {
    // A read that continues a frame without completing it is copied once, when the frame's reads are joined (`take`);
    // any other read may be viewed by the frames cut from it, and gets a buffer of its own size now.
    const chunk = this.awaited > this.buffered + read.length ? read : ownBytes(read);
    this.awaited = 0;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const frames: Frame[] = [];
    while (this.buffered >= 4) {
      const head = this.peek(4);
      const length = head.readUInt32BE(0);
      if (length < FRAME_OVERHEAD_BYTES - 4 || 4 + length > FRAME_BYTES_MAX) throw new Error(`corrupt peer frame length ${length}`);
      if (this.buffered < 4 + length) {
        this.awaited = 4 + length;
        break;
      }
      const raw = this.take(4 + length);
      const headerLength = raw.readUInt16BE(9);
      if (FRAME_OVERHEAD_BYTES + headerLength > raw.length) throw new Error("corrupt peer frame header length");
      frames.push({
        id: raw.readUInt32BE(4),
        kind: raw[8]!,
        header: raw.subarray(FRAME_OVERHEAD_BYTES, FRAME_OVERHEAD_BYTES + headerLength),
        body: raw.subarray(FRAME_OVERHEAD_BYTES + headerLength),
      });
    }
    return frames;
  }

  private peek(n: number): Buffer {
    if (this.chunks[0]!.length >= n) return this.chunks[0]!;
    return this.take(n, true);
  }

  private take(n: number, keep = false): Buffer {
    const joined = this.chunks.length === 1 ? this.chunks[0]! : this.joined();
    const out = joined.subarray(0, n);
    if (keep) {
      this.chunks = [joined];
      return out;
    }
    const rest = joined.subarray(n);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered = rest.length;
    return out;
  }

  /**
   * The buffered reads as one buffer of its own: `Buffer.concat` would make a short one a slice of Node's shared pool,
   * which a frame kept long would keep whole, as `ownBytes` says of a read.
   */
  private joined(): Buffer {
    const out = Buffer.allocUnsafeSlow(this.buffered);
    let at = 0;
    for (const chunk of this.chunks) at += chunk.copy(out, at);
    return out;
  }
}

/**
 * A read from a socket, in a buffer of its own size. Node.js 24 hands each TLS read to JavaScript as a view of a
 * 64 KiB buffer made for that read alone (a plain TCP read, and any read on Node.js 20, gets a buffer of its size).
 * Frames view the read they came in, and a view kept past two young collections (a write waiting for LevelDB, a
 * reply waiting for its quorum) keeps the whole 64 KiB until a full collection: a node under YCSB-A gathered some
 * 60 MB/s of such buffers and ran a full collection every second to free them (performance round 40). Copying a
 * read of a few kilobytes costs far less than that.
 */
function ownBytes(read: Buffer): Buffer {
  if (read.buffer.byteLength <= read.length * 2) return read;
  const own = Buffer.allocUnsafeSlow(read.length);
  read.copy(own);
  return own;
}
