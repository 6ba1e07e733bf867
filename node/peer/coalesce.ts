import type { Duplex } from "node:stream";

/**
 * Returns a function that writes frames to `socket`, holding them back until the end of the event loop's current
 * turn (its check phase) so that every frame written in one turn leaves in a single write: one TLS record to seal
 * and one system call instead of one per frame. Holding them only until the next tick, as before, coalesced the
 * frames of one callback alone, while a busy node's answers come from many callbacks of the same turn (each socket's
 * data, each finished LevelDB operation). The delay is bounded by the turn itself: with an immediate pending, the
 * loop does not wait in its poll phase.
 */
export function coalescingWriter(socket: Duplex): (frame: Buffer) => void {
  let corked = false;
  const flush = () => {
    corked = false;
    socket.uncork();
  };
  return (frame) => {
    if (!corked) {
      corked = true;
      socket.cork();
      setImmediate(flush);
    }
    socket.write(frame);
  };
}
