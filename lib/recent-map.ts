/**
 * A map that keeps at most `sizeMax` entries, the most recently used: a read or a write moves an entry to the young end
 * of the Map's insertion order, and a write past the bound drops the oldest. For small caches of derived values (a
 * secure context per TLS material, a checked TLS directory) that must not grow with whatever a caller passes in.
 */
export class RecentMap<K, V> {
  private readonly entries = new Map<K, V>();

  constructor(private readonly sizeMax: number) {}

  get(key: K): V | undefined {
    const value = this.entries.get(key);
    if (value !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, value);
    }
    return value;
  }

  set(key: K, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    for (const oldest of this.entries.keys()) {
      if (this.entries.size <= this.sizeMax) break;
      this.entries.delete(oldest);
    }
  }

  get size(): number {
    return this.entries.size;
  }
}
