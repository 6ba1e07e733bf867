import type { Duplex } from "node:stream";
import { atTurnEnd } from "../../lib/turn-end.js";

/** Writes frames to one peer stream; see `coalescingWriter`. */
export interface FrameWriter {
  write(frame: Buffer): void;
  /** Writes what is held at once and ends the stream, so a frame written just before it is not lost. */
  end(): void;
}

/**
 * Returns a writer that holds frames back until the end of the event loop's current turn (its check phase) and then
 * writes every frame of that turn in a single write: one TLS record to seal and one system call instead of one per
 * frame. Holding them only until the next tick coalesced the frames of one callback alone, while a busy node's answers
 * come from many callbacks of the same turn (each socket's data, each finished LevelDB operation). The frames are held
 * here rather than in the stream's own buffer (cork and uncork), which would queue an entry per frame and hand them to
 * the socket as a vector: one frame, the usual case, goes as it is, several as one buffer. The delay is bounded by the
 * turn itself: with an immediate pending, the loop does not wait in its poll phase. The frames go in the turn's send
 * stage (lib/turn-end.ts), after the write log has taken the turn's writes, so that the acknowledgements of those writes
 * leave in this turn's write too.
 */
export function coalescingWriter(socket: Duplex): FrameWriter {
  let held: Buffer[] = [];
  const flush = () => {
    const frames = held;
    if (frames.length === 0) return;
    held = [];
    // A stream already gone fails its requests through its own close; writing to it would only raise another error.
    if (socket.destroyed) return;
    socket.write(frames.length === 1 ? frames[0]! : Buffer.concat(frames));
  };
  return {
    write(frame) {
      if (held.length === 0) atTurnEnd("send", flush);
      held.push(frame);
    },
    end() {
      flush();
      socket.end();
    },
  };
}
