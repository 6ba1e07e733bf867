/**
 * A node-wide budget of bytes for client request bodies. A request takes from it before it holds the bytes (the
 * declared Content-Length up front, or each chunk of a chunked body as it arrives) and gives everything back when its
 * answer is sent, so the memory that bodies in flight can pin is bounded however many clients write at once.
 */
import { assert } from "../errors/index.js";

export class ByteBudget {
  #used = 0;

  constructor(readonly capacityBytes: number) {
    assert(Number.isInteger(capacityBytes) && capacityBytes > 0, "a byte budget needs a positive capacity");
  }

  get usedBytes(): number {
    return this.#used;
  }

  /** A lease for one request: it takes bytes as they come and returns all of them at once. */
  lease(): BudgetLease {
    return new BudgetLease(this);
  }

  /** @internal Takes `bytes` when they fit; false (and nothing taken) when they do not. */
  tryTake(bytes: number): boolean {
    if (this.#used + bytes > this.capacityBytes) return false;
    this.#used += bytes;
    return true;
  }

  /** @internal */
  give(bytes: number): void {
    this.#used -= bytes;
    assert(this.#used >= 0, "a byte budget was given back more than it lent");
  }
}

export class BudgetLease {
  #held = 0;

  constructor(private readonly budget: ByteBudget) {}

  get heldBytes(): number {
    return this.#held;
  }

  tryTake(bytes: number): boolean {
    if (!this.budget.tryTake(bytes)) return false;
    this.#held += bytes;
    return true;
  }

  /** Returns everything this lease holds; safe to call more than once. */
  release(): void {
    if (this.#held === 0) return;
    this.budget.give(this.#held);
    this.#held = 0;
  }
}
