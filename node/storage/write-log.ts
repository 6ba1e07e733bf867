/**
 * The store's own write-ahead log, in front of LevelDB. A write used to be acknowledged only once LevelDB had taken it,
 * after a trip through libuv's thread pool (a pool thread woken, the event loop woken again to hear the answer). Here a
 * write is appended to this log on the event loop and acknowledged (the write queue appends the writes of one turn as
 * one frame, with one `write` system call); LevelDB takes it later, in batches as large as the load makes them.
 * Updates got a fifth faster for it (performance round 28).
 *
 * The promise is the one LevelDB gave with `sync: false`: a write is acknowledged once it is in the kernel's page
 * cache, so a process killed at any moment loses nothing acknowledged, and a crash of the whole machine may lose the
 * last writes. A store that fsyncs every batch (`syncWrites`) does not use this log.
 *
 * The log is a directory of files, `<sequence>-<generation>.wal`, appended to in order. Each append is one frame: its
 * length, a CRC-32 of its body seeded with the file's generation, and the body, a run of operations (put, delete, or
 * the clearing of a key range). When a file passes `FILE_BYTES_MAX` (32 MiB by default) the next one starts, and the
 * old one is released once LevelDB holds all it holds. On open, what the files hold is applied to LevelDB again, in
 * order: a put or delete applied twice leaves what applying it once left, so replaying writes LevelDB already has is
 * harmless. A frame cut short or failing its check ends the replay of its file: it was being written when the process
 * died, and was never acknowledged.
 *
 * A released file is kept as the spare (`spare-<generation>`, a name no replay reads) and the next file is the spare
 * renamed, written over from its start, as RocksDB recycles its logs. Appending to a new file made ext4 allocate a
 * page-cache page and reserve a block for every 4 KiB the log grew (10 µs of a YCSB-A operation, performance round 37);
 * writing over a file whose blocks exist, most of whose pages are still cached, does neither. The file's generation
 * goes up by one at each reuse and seeds its frames' checksums, so the frames left from its earlier uses all fail
 * their check: a replay stops at the first of them, as at a frame cut short. Files named `<sequence>.log` are the
 * older format (checksums not seeded), read on open after an upgrade.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import { crc32 } from "node:zlib";

/** A file is closed for appends once it holds this much; it goes once LevelDB holds all it holds. */
const FILE_BYTES_MAX = 32 * 1024 * 1024;
const FRAME_HEADER_BYTES = 8;
const OP_HEADER_BYTES = 9;
const PUT = 0;
const DEL = 1;
const CLEAR = 2;

/** An operation as the log keeps it: a put of `value`, a delete, or the clearing of the key range [key, value). */
export interface LoggedOp {
  type: "put" | "del" | "clear";
  key: Buffer;
  value: Buffer | undefined;
}

/**
 * One frame of the operations, in order, for a file of generation `generation` (0: the older, unseeded format). The
 * frame is a buffer of its own, never a slice of Node's shared pool, since `append` leaves the operations viewing it.
 */
export function encodeOps(ops: readonly LoggedOp[], generation: number): Buffer {
  let bytes = FRAME_HEADER_BYTES;
  for (const op of ops) bytes += OP_HEADER_BYTES + op.key.length + (op.value?.length ?? 0);
  const frame = Buffer.allocUnsafeSlow(bytes);
  let at = FRAME_HEADER_BYTES;
  for (const op of ops) {
    const valueBytes = op.value?.length ?? 0;
    frame[at] = op.type === "put" ? PUT : op.type === "del" ? DEL : CLEAR;
    frame.writeUInt32BE(op.key.length, at + 1);
    frame.writeUInt32BE(valueBytes, at + 5);
    at += OP_HEADER_BYTES;
    at += op.key.copy(frame, at);
    if (op.value !== undefined) at += op.value.copy(frame, at);
  }
  frame.writeUInt32BE(bytes - FRAME_HEADER_BYTES, 0);
  frame.writeUInt32BE(crc32(frame.subarray(FRAME_HEADER_BYTES), generation), 4);
  return frame;
}

/**
 * The operations of a file's frames, in order, up to the first frame cut short or failing its check for the file's
 * generation; `validBytes` is how far the good frames reach.
 */
export function decodeFrames(file: Buffer, generation: number): { ops: LoggedOp[]; validBytes: number } {
  const ops: LoggedOp[] = [];
  let at = 0;
  while (at + FRAME_HEADER_BYTES <= file.length) {
    const length = file.readUInt32BE(at);
    const end = at + FRAME_HEADER_BYTES + length;
    if (end > file.length) break;
    const body = file.subarray(at + FRAME_HEADER_BYTES, end);
    if (crc32(body, generation) !== file.readUInt32BE(at + 4)) break;
    const decoded = decodeBody(body);
    if (decoded === undefined) break;
    for (const op of decoded) ops.push(op);
    at = end;
  }
  return { ops, validBytes: at };
}

/** A frame's operations, or undefined when its body does not parse (a frame written by something else). */
function decodeBody(body: Buffer): LoggedOp[] | undefined {
  const ops: LoggedOp[] = [];
  let at = 0;
  while (at < body.length) {
    if (at + OP_HEADER_BYTES > body.length) return undefined;
    const kind = body[at]!;
    const keyBytes = body.readUInt32BE(at + 1);
    const valueBytes = body.readUInt32BE(at + 5);
    at += OP_HEADER_BYTES;
    if (kind > CLEAR || at + keyBytes + valueBytes > body.length) return undefined;
    // Views into the file's bytes, which live as long as the replay: LevelDB copies what a batch gives it.
    const key = body.subarray(at, at + keyBytes);
    at += keyBytes;
    const value = kind === DEL ? undefined : body.subarray(at, at + valueBytes);
    at += valueBytes;
    ops.push({ type: kind === PUT ? "put" : kind === DEL ? "del" : "clear", key, value });
  }
  return ops;
}

interface LogFile {
  readonly sequence: number;
  /** How many times the file has been used, this use included; 0 for a file of the older format. */
  readonly generation: number;
  readonly path: string;
}

const FILE_NAME = /^(\d{10})-(\d{1,10})\.wal$/;
const OLDER_FILE_NAME = /^(\d{10})\.log$/;
const SPARE_NAME = /^spare-(\d{1,10})$/;

/** What a log directory held on open: the files, oldest first, and the operations in them in order. */
export interface LogContents {
  files: number;
  ops: LoggedOp[];
  /**
   * Bytes after the last good frame of a file used for the first time: a frame cut short, or damage. What follows the
   * good frames of a reused file is mostly what its earlier uses left, so it is not counted.
   */
  discardedBytes: number;
}

export class WriteLog {
  private fd = -1;
  private current: LogFile | undefined;
  private currentBytes = 0;
  /** Files closed for appends, oldest first, each released once LevelDB holds what it holds. */
  private readonly closed: LogFile[] = [];
  /** A released file kept for the next file to reuse. */
  private spare: LogFile | undefined;

  constructor(
    readonly dir: string,
    private readonly fileBytesMax = FILE_BYTES_MAX,
  ) {}

  /** Reads what an earlier process left in the log's directory (making the directory if it is missing). */
  recover(): LogContents {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const ops: LoggedOp[] = [];
    let discardedBytes = 0;
    const files = this.files();
    for (const file of files) {
      const bytes = readFileSync(file.path);
      const decoded = decodeFrames(bytes, file.generation);
      for (const op of decoded.ops) ops.push(op);
      if (file.generation <= 1) discardedBytes += bytes.length - decoded.validBytes;
    }
    return { files: files.length, ops, discardedBytes };
  }

  /**
   * Removes every file of the log, once what they held is in LevelDB, and opens a fresh one. The caller has made
   * LevelDB's copy durable first (a synchronous write), so a crash right after this loses nothing.
   */
  reset(): void {
    this.closeFile();
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this.findSpare();
    // The files closed for appends are among those in the directory: each is released once.
    this.closed.splice(0);
    for (const file of this.files()) this.release1(file);
    this.openFile(1);
  }

  /**
   * Appends one frame of operations; throws what the file system threw (the write is then not logged). Once appended,
   * each operation's key and value view the frame instead of the buffers they came in. The write queue keeps logged
   * writes until LevelDB holds them, 50 ms and more, and the buffers they came in are mostly small slices of larger
   * ones (Node's 64 KiB pool, a received message): kept that long, a slice outlives two young collections and keeps
   * its whole buffer until a full one. The frame is one buffer of the writes' own size, which they already paid for.
   */
  append(ops: readonly LoggedOp[]): void {
    if (this.fd < 0) throw new Error("the write log is closed");
    const frame = encodeOps(ops, this.current!.generation);
    let written = 0;
    // A regular file takes the whole buffer in one call; the loop is there for a file system that says otherwise.
    while (written < frame.length) written += writeSync(this.fd, frame, written, frame.length - written);
    this.currentBytes += frame.length;
    let at = FRAME_HEADER_BYTES;
    for (const op of ops) {
      at += OP_HEADER_BYTES;
      op.key = frame.subarray(at, (at += op.key.length));
      if (op.value !== undefined) op.value = frame.subarray(at, (at += op.value.length));
    }
  }

  /**
   * Whether the file being appended to is full. The caller then calls `rotate`, and `release` with the files it
   * returned once LevelDB holds everything written before the rotation.
   */
  get full(): boolean {
    return this.currentBytes >= this.fileBytesMax;
  }

  /** Starts a new file; returns the files closed for appends so far, for `release`. */
  rotate(): LogFile[] {
    const old = this.current!;
    this.closeFile();
    this.closed.push(old);
    this.openFile(old.sequence + 1);
    return [...this.closed];
  }

  /** Releases files closed for appends, once LevelDB holds all they hold: one is kept as the spare, the rest go. */
  release(files: readonly LogFile[]): void {
    for (const file of files) {
      const at = this.closed.indexOf(file);
      if (at < 0) continue;
      this.closed.splice(at, 1);
      this.release1(file);
    }
  }

  /** Closes the file; with `remove`, when LevelDB holds everything, removes every file of the log, the spare too. */
  close(remove: boolean): void {
    this.closeFile();
    if (!remove) return;
    this.closed.splice(0);
    this.spare = undefined;
    for (const name of readdirSync(this.dir)) {
      if (FILE_NAME.test(name) || OLDER_FILE_NAME.test(name) || SPARE_NAME.test(name)) unlinkQuietly(join(this.dir, name));
    }
  }

  /** The files a replay reads, oldest first. */
  private files(): LogFile[] {
    const out: LogFile[] = [];
    for (const name of readdirSync(this.dir)) {
      const match = FILE_NAME.exec(name);
      if (match) out.push({ sequence: Number(match[1]), generation: Number(match[2]), path: join(this.dir, name) });
      const older = OLDER_FILE_NAME.exec(name);
      if (older) out.push({ sequence: Number(older[1]), generation: 0, path: join(this.dir, name) });
    }
    return out.sort((a, b) => a.sequence - b.sequence);
  }

  /** Takes up a spare an earlier process left (removing any more of them), unless this log has one already. */
  private findSpare(): void {
    for (const name of readdirSync(this.dir)) {
      const match = SPARE_NAME.exec(name);
      if (!match) continue;
      const path = join(this.dir, name);
      if (this.spare === undefined) this.spare = { sequence: 0, generation: Number(match[1]), path };
      else if (this.spare.path !== path) unlinkQuietly(path);
    }
  }

  /**
   * A file whose operations LevelDB holds becomes the spare when there is none, under a name no replay reads: what it
   * holds must never be applied again, since newer writes to the same keys may be gone from the log already.
   */
  private release1(file: LogFile): void {
    if (this.spare !== undefined) {
      unlinkQuietly(file.path);
      return;
    }
    const path = join(this.dir, `spare-${file.generation}`);
    try {
      renameSync(file.path, path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
      throw err;
    }
    this.spare = { sequence: 0, generation: file.generation, path };
  }

  private openFile(sequence: number): void {
    const spare = this.spare;
    this.spare = undefined;
    // Generation 0 is the older format's: a reused file of that format starts at 2, like any file used a second time.
    const generation = spare === undefined ? 1 : Math.max(spare.generation, 1) + 1;
    const path = join(this.dir, `${String(sequence).padStart(10, "0")}-${generation}.wal`);
    if (spare !== undefined) renameSync(spare.path, path);
    // "r+" writes from the start without truncating: a reused file keeps its blocks, and its old frames fail their check.
    this.fd = openSync(path, spare === undefined ? "w" : "r+", 0o600);
    this.current = { sequence, generation, path };
    this.currentBytes = 0;
    // The new file's name must survive a crash of the machine once LevelDB's copy of the old files is durable.
    fsyncDirectory(this.dir);
  }

  private closeFile(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
    this.current = undefined;
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
}

function fsyncDirectory(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
