/**
 * Version vectors and dots: the causal bookkeeping every versioning decision rests on. A version vector maps each
 * actor to the highest counter of that actor's writes it has seen; a dot names exactly one write. A dot is "covered" by
 * a vector when the vector has seen it, which is how a write that carried a context knows which older siblings it
 * replaces. Counters are per key, so the vectors stay as small as the set of actors that ever wrote the key.
 *
 * Actor ids become object keys, so lookups go through `counterOf`, which only reads own properties: an actor named
 * like an `Object.prototype` member ("constructor", "toString") must not read an inherited function as a counter.
 * The one name that cannot be an own data property set by assignment, `__proto__`, is refused as an actor outright.
 */
import type { Dot, VersionVector } from "./types.js";

/** The longest actor id, in UTF-8 bytes; the binary codec stores the length in one byte. */
export const ACTOR_BYTES_MAX = 255;

/** The highest counter of `actor` that `clock` has seen, 0 when none. */
export function counterOf(clock: VersionVector | undefined, actor: string): number {
  if (clock === undefined || !Object.hasOwn(clock, actor)) return 0;
  return clock[actor] ?? 0;
}

/** Whether `clock` has seen the write named by `dot`. */
export function covers(clock: VersionVector, dot: Dot): boolean {
  return counterOf(clock, dot.actor) >= dot.counter;
}

/** Whether `a` has seen everything `b` has (equal vectors descend from each other). */
export function descends(a: VersionVector, b: VersionVector): boolean {
  for (const actor of Object.keys(b)) {
    if (counterOf(a, actor) < counterOf(b, actor)) return false;
  }
  return true;
}

/** Whether the two vectors have seen exactly the same writes. Missing entries count as 0. */
export function clocksEqual(a: VersionVector, b: VersionVector): boolean {
  return descends(a, b) && descends(b, a);
}

export type ClockOrder = "equal" | "before" | "after" | "concurrent";

/** How `a` relates to `b`: `before` means `b` has seen everything `a` has and more. */
export function compareClocks(a: VersionVector, b: VersionVector): ClockOrder {
  const aSeesB = descends(a, b);
  const bSeesA = descends(b, a);
  if (aSeesB && bSeesA) return "equal";
  if (aSeesB) return "after";
  if (bSeesA) return "before";
  return "concurrent";
}

/** The pointwise maximum: a vector that has seen everything either input has. Neither input is modified. */
export function mergeClocks(a: VersionVector, b: VersionVector): VersionVector {
  const merged: VersionVector = {};
  for (const actor of Object.keys(a)) merged[actor] = counterOf(a, actor);
  for (const actor of Object.keys(b)) {
    const counter = counterOf(b, actor);
    if (counter > counterOf(merged, actor)) merged[actor] = counter;
  }
  return merged;
}

/** Total order on dots, by actor and then counter, so sibling lists have one canonical order on every replica. */
export function compareDots(a: Dot, b: Dot): number {
  if (a.actor !== b.actor) return a.actor < b.actor ? -1 : 1;
  return a.counter - b.counter;
}

export function sameDot(a: Dot, b: Dot): boolean {
  return a.actor === b.actor && a.counter === b.counter;
}

/** Whether `actor` can serve as an actor id: non-empty, at most `ACTOR_BYTES_MAX` UTF-8 bytes, not `__proto__`. */
export function isValidActor(actor: string): boolean {
  return actor.length > 0 && actor !== "__proto__" && Buffer.byteLength(actor, "utf8") <= ACTOR_BYTES_MAX;
}

/** Whether `counter` can be a dot or clock counter: a positive safe integer. */
export function isValidCounter(counter: number): boolean {
  return Number.isSafeInteger(counter) && counter >= 1;
}
