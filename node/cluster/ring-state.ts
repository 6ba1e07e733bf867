/**
 * The ring this node has installed, and a peer client for every other member of it. A ring is only ever replaced by
 * one with a higher epoch; it is persisted before it takes effect, so a restarted node comes back with the newest
 * ring it accepted.
 */
import { createHash } from "node:crypto";
import { parseRing } from "../ring/index.js";
import type { Ring } from "../ring/types.js";
import { PeerClient, type PeerClientOptions } from "../peer/index.js";
import type { Store } from "../storage/index.js";

export type RingListener = (ring: Ring, previous: Ring | undefined) => void;

export class RingState {
  private current: Ring | undefined;
  private currentHash: string | undefined;
  private readonly peers = new Map<string, PeerClient>();
  private readonly listeners: RingListener[] = [];

  constructor(
    private readonly store: Store,
    private readonly self: string,
    private readonly peerOptions: Omit<PeerClientOptions, "from">,
  ) {}

  get ring(): Ring | undefined {
    return this.current;
  }

  get epoch(): number {
    return this.current?.epoch ?? 0;
  }

  onChange(listener: RingListener): void {
    this.listeners.push(listener);
  }

  async load(): Promise<void> {
    const raw = await this.store.getMeta("ring");
    if (raw) this.apply(parseRing(JSON.parse(raw.toString("utf8"))));
  }

  /**
   * Installs `candidate` when it wins over the current ring; returns whether this node now runs it. A ring of a lower
   * term never wins (its driver was fenced: a newer leader has claimed the ring). Otherwise a higher epoch wins, and at
   * the same epoch a higher term. A `commit` (a driver's, through the admin API) is a compare-and-set: it builds on the
   * epoch before its own, so it is refused where another ring of its epoch and term is already installed. Gossip
   * instead settles two different rings of one epoch and term — two drivers that both believed they led, without leader
   * election — on the greater content hash, so the cluster converges on one ring, which the leader carries forward.
   */
  async install(candidate: Ring, mode: "commit" | "gossip" = "gossip"): Promise<boolean> {
    // The epoch and the term are part of a ring's content, so only a ring of the same epoch and term can be this one;
    // the hash, a canonical JSON of the whole ring, is computed only then (each node is offered every new ring, by the
    // driver and by gossip, several times during a ring change).
    if (this.current && this.sameVersion(candidate, this.current) && ringHash(candidate) === this.contentHash()) return true;
    if (!this.wins(candidate, mode)) return false;
    await this.store.putMeta("ring", Buffer.from(JSON.stringify(candidate)));
    // Another install may have raced past while the write was in flight; the winner still wins.
    if (!this.wins(candidate, mode)) return false;
    this.apply(candidate);
    return true;
  }

  /**
   * What gossip compares to notice equal epochs with different contents: the ring's term, then its content hash, as
   * one string that sorts the way `install` decides.
   */
  get hash(): string {
    if (!this.current) return "";
    this.currentHash ??= `${termOf(this.current).toString().padStart(16, "0")}:${this.contentHash()}`;
    return this.currentHash;
  }

  private contentHash(): string {
    return this.current ? ringHash(this.current) : "";
  }

  get term(): number {
    return this.current ? termOf(this.current) : 0;
  }

  private wins(candidate: Ring, mode: "commit" | "gossip"): boolean {
    const current = this.current;
    if (!current) return true;
    if (termOf(candidate) < termOf(current)) return false;
    if (candidate.epoch !== current.epoch) return candidate.epoch > current.epoch;
    if (termOf(candidate) !== termOf(current)) return termOf(candidate) > termOf(current);
    return mode === "gossip" && ringHash(candidate) > this.contentHash();
  }

  private sameVersion(a: Ring, b: Ring): boolean {
    return a.epoch === b.epoch && termOf(a) === termOf(b);
  }

  peer(id: string): PeerClient | undefined {
    return this.peers.get(id);
  }

  /** Without a failure detector's verdict, a member is up unless the last attempt to reach it failed just now. */
  isReachable(id: string): boolean {
    if (id === this.self) return true;
    return this.peers.get(id)?.reachable ?? false;
  }

  closeAll(): void {
    for (const client of this.peers.values()) client.close();
    this.peers.clear();
  }

  private apply(ring: Ring): void {
    const previous = this.current;
    this.current = ring;
    this.currentHash = undefined;
    for (const [id, client] of this.peers) {
      const member = ring.members[id];
      if (!member || member.peerUrl !== client.url) {
        client.close();
        this.peers.delete(id);
      }
    }
    for (const member of Object.values(ring.members)) {
      if (member.id === this.self || this.peers.has(member.id)) continue;
      this.peers.set(member.id, new PeerClient(member.peerUrl, { ...this.peerOptions, from: this.self }, member.id));
    }
    for (const listener of this.listeners) listener(ring, previous);
  }
}

/** The term a ring was committed under; 0 for a driver without one. */
export function termOf(ring: Ring): number {
  return ring.term ?? 0;
}

/**
 * Each ring's hash, computed once: rings are never changed in place, and a node's gossip, its installs and its admin
 * API's ETag all ask for it.
 */
const hashes = new WeakMap<Ring, string>();

/** SHA-256 of the ring's JSON with object keys sorted, so equal rings hash equally whoever serialized them. */
export function ringHash(ring: Ring): string {
  let hash = hashes.get(ring);
  if (hash === undefined) {
    hash = createHash("sha256").update(canonicalJson(ring)).digest("hex");
    hashes.set(ring, hash);
  }
  return hash;
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    return `{${entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}
