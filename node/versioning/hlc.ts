/**
 * Hybrid logical clocks. Every sibling carries the timestamp its coordinator gave it, and `lww` buckets keep the
 * sibling with the greatest one. Wall clocks alone are a poor basis for that: they step backwards under NTP
 * corrections and differ between nodes, so a write could be stamped older than the write it followed and lose to it.
 * A hybrid clock stays within the wall clock when the wall clock behaves, but never issues a timestamp lower than one
 * it issued or observed before, so a node that has seen a write always stamps its next write higher.
 *
 * The wall clock is injected so tests (and whole-cluster simulations) can drive time, including backwards.
 */
import type { Hlc } from "./types.js";

/** Orders timestamps by wall-clock milliseconds, then by the logical counter: negative, zero or positive. */
export function compareHlc(a: Hlc, b: Hlc): number {
  if (a.ms !== b.ms) return a.ms < b.ms ? -1 : 1;
  if (a.logical !== b.logical) return a.logical < b.logical ? -1 : 1;
  return 0;
}

export class HybridClock {
  private last: Hlc = { ms: 0, logical: 0 };

  constructor(private readonly now: () => number = Date.now) {}

  /** A timestamp greater than every timestamp this clock has issued or observed. */
  tick(): Hlc {
    const wallMs = Math.floor(this.now());
    const next: Hlc =
      wallMs > this.last.ms ? { ms: wallMs, logical: 0 } : { ms: this.last.ms, logical: this.last.logical + 1 };
    this.last = next;
    return { ...next };
  }

  /**
   * Takes in a timestamp seen on a message from another node, so that the next `tick` is greater than it. A node whose
   * wall clock is far ahead drags the others' clocks along with it; the HLC keeps order, not accuracy.
   */
  observe(remote: Hlc): void {
    if (compareHlc(remote, this.last) > 0) this.last = { ms: remote.ms, logical: remote.logical };
  }

  /** The latest timestamp issued or observed, without advancing the clock. */
  peek(): Hlc {
    return { ...this.last };
  }
}
