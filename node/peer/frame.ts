/**
 * Framing of the peer protocol. After an authenticated HTTP upgrade, both directions of the socket carry frames:
 *
 *   u32 length (of everything after this field) | u32 request id | u8 kind | u16 header length | header JSON | body
 *
 * The JSON header carries small fields (op, bucket, key as base64, options); the body carries encoded records
 * untouched, so a record read from disk crosses the network without being decoded and re-encoded.
 */

export const FRAME_REQUEST = 0;
export const FRAME_OK = 1;
export const FRAME_ERROR = 2;

/** No frame may exceed this; a larger length prefix means a corrupt or hostile stream, and the socket is closed. */
export const FRAME_BYTES_MAX = 64 * 1024 * 1024;

export interface Frame {
  id: number;
  kind: number;
  header: Record<string, unknown>;
  body: Buffer;
}

export function encodeFrame(id: number, kind: number, header: object, body?: Buffer): Buffer {
  const headerBytes = Buffer.from(JSON.stringify(header), "utf8");
  const bodyLength = body ? body.length : 0;
  const length = 4 + 1 + 2 + headerBytes.length + bodyLength;
  const out = Buffer.allocUnsafe(4 + length);
  out.writeUInt32BE(length, 0);
  out.writeUInt32BE(id, 4);
  out[8] = kind;
  out.writeUInt16BE(headerBytes.length, 9);
  headerBytes.copy(out, 11);
  if (body) body.copy(out, 11 + headerBytes.length);
  return out;
}

/** Accumulates socket chunks and yields whole frames; throws on a corrupt stream. */
export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;

  push(chunk: Buffer): Frame[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const frames: Frame[] = [];
    while (this.buffered >= 4) {
      const head = this.peek(4);
      const length = head.readUInt32BE(0);
      if (length < 7 || length > FRAME_BYTES_MAX) throw new Error(`corrupt peer frame length ${length}`);
      if (this.buffered < 4 + length) break;
      const raw = this.take(4 + length);
      const headerLength = raw.readUInt16BE(9);
      if (11 + headerLength > raw.length) throw new Error("corrupt peer frame header length");
      const header = JSON.parse(raw.toString("utf8", 11, 11 + headerLength)) as Record<string, unknown>;
      frames.push({ id: raw.readUInt32BE(4), kind: raw[8]!, header, body: raw.subarray(11 + headerLength) });
    }
    return frames;
  }

  private peek(n: number): Buffer {
    if (this.chunks[0]!.length >= n) return this.chunks[0]!;
    return this.take(n, true);
  }

  private take(n: number, keep = false): Buffer {
    const joined = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
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
}
