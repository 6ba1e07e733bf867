/**
 * Gossip: every round this node bumps its own heartbeat and exchanges heartbeat digests and ring epochs with a few
 * random members (a bounded fan-out), so liveness news and the newest ring spread through the cluster in a
 * logarithmic number of rounds without all-to-all traffic. A heartbeat is (generation, version): the generation is the
 * process start time, so a restarted node's heartbeats still read as newer than its old ones; the version is the
 * sender's monotonic clock in milliseconds when it sent the heartbeat. Every newer heartbeat learnt, first or second
 * hand, feeds the failure detector, unless it arrives late (see `isFresh`).
 *
 * A member that shuts down on purpose says so first (`leave`), carrying its generation: receivers count it as down
 * at once, so coordinators stop sending it work before it exits instead of a failure detector's window later, and
 * count it as up again only once they learn a heartbeat of a later generation, that is, from its next process.
 */
import { DynamoError } from "../errors/index.js";
import type { PeerClient, PeerHandlers } from "../peer/index.js";
import type { Ring } from "../ring/types.js";
import type { PhiAccrualDetector } from "./failure-detector.js";
import { PeriodicTask } from "../../lib/periodic-task.js";

export interface GossipOptions {
  intervalMs: number;
  fanout: number;
  /**
   * A heartbeat that reaches this node more than this much later than the member's fastest heartbeats did is not
   * proof that the member is alive now, and does not feed the failure detector.
   */
  heartbeatMaxDelayMs: number;
}

export const DEFAULT_GOSSIP: GossipOptions = { intervalMs: 500, fanout: 2, heartbeatMaxDelayMs: 2000 };

/**
 * How far a member's monotonic clock is from this node's, learnt from its heartbeats: the smallest (local time of
 * arrival - sender's time of sending) seen, which is the clocks' offset plus the fastest delivery.
 */
interface MemberClock {
  generation: number;
  minOffset: number;
  lastAt: number;
  firstAt: number;
  firstVersion: number;
}

/**
 * How fast the smallest offset may creep up (ms per ms), so that two machines' clocks running at slightly different
 * rates never make every heartbeat look late; far above real clock drift (tens of ppm), far below any real delay.
 */
const OFFSET_DRIFT_ALLOWANCE = 0.001;

type Heartbeat = [generation: number, version: number];

export interface GossipDeps {
  self: string;
  ring: () => Ring | undefined;
  /** Digest of the installed ring, to notice two different rings under one epoch. */
  ringHash: () => string;
  installRing: (ring: Ring) => Promise<boolean>;
  /** Peer clients of ring members, by id. */
  peer: (id: string) => PeerClient | undefined;
  /** Peer clients for seed URLs, used until this node holds a ring. */
  seedClients: () => PeerClient[];
  detector: PhiAccrualDetector;
  random: () => number;
  /** A monotonic clock in milliseconds, for the failure detector's heartbeat times. */
  now: () => number;
  log: (message: string) => void;
}

export class Gossiper {
  private readonly heartbeats = new Map<string, Heartbeat>();
  private readonly clocks = new Map<string, MemberClock>();
  private readonly generation: number;
  private version = 0;
  private readonly loop: PeriodicTask;
  private pulling = false;
  /** Members that announced they are leaving, with the generation of the process that announced it. */
  private readonly leaving = new Map<string, number>();

  constructor(
    private readonly deps: GossipDeps,
    private readonly options: GossipOptions = DEFAULT_GOSSIP,
  ) {
    // The generation must grow from one process to the next, so it comes from the wall clock, not `now`.
    this.generation = Date.now();
    this.loop = new PeriodicTask({
      intervalMs: options.intervalMs,
      round: () => this.round(),
      onError: (err) => deps.log(`gossip round failed: ${err.message}`),
      // An exchange may wait 4 intervals for a slow peer, so up to 5 rounds overlap while one hangs; twice that leaves
      // room for a loaded event loop, and the rounds after a slow one still carry heartbeats to the others.
      roundsMax: 10,
    });
  }

  start(): void {
    this.loop.start();
  }

  /** Stops gossiping, once the rounds in flight are over. */
  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** Gives every member of a newly seen ring the benefit of the doubt, so nobody starts out suspected. */
  welcome(ring: Ring): void {
    const now = this.deps.now();
    for (const id of Object.keys(ring.members)) {
      if (id !== this.deps.self && this.deps.detector.lastHeardAt(id) === undefined) this.deps.detector.heartbeat(id, now);
    }
  }

  /** Whether a member announced that it is shutting down and has not come back since. */
  isLeaving(id: string): boolean {
    return this.leaving.has(id);
  }

  /**
   * Tells every other member that this process is shutting down, and waits (each call bounded by `timeoutMs`) until
   * each has heard it or could not be reached. Returns how many acknowledged; a member that missed it learns of the
   * departure from its failure detector, as it would of a crash.
   */
  async announceLeave(timeoutMs: number): Promise<{ told: number; members: number }> {
    this.stop();
    const ring = this.deps.ring();
    const others = ring ? Object.keys(ring.members).filter((id) => id !== this.deps.self) : [];
    const results = await Promise.all(
      others.map(async (id) => {
        const client = this.deps.peer(id);
        if (!client) return false;
        try {
          await client.call("leave", { header: { generation: this.generation } }, timeoutMs);
          return true;
        } catch {
          return false;
        }
      }),
    );
    return { told: results.filter(Boolean).length, members: others.length };
  }

  peerHandlers(): Pick<PeerHandlers, "gossip" | "ring-get" | "ring-put" | "leave"> {
    return {
      leave: async ({ header }, from) => {
        // Only a ring member may be marked, and only by itself: `from` is the sender's name on a connection that carried
        // the cluster token (and, with TLS, a certificate from the cluster CA).
        if (!Object.hasOwn(this.deps.ring()?.members ?? {}, from)) return { header: {} };
        const known = this.heartbeats.get(from);
        if (known && known[0] > header.generation) return { header: {} };
        this.leaving.set(from, header.generation);
        this.deps.log(`${from} announced that it is shutting down; counting it as down until its next process gossips`);
        return { header: {} };
      },
      gossip: async ({ header }, from) => {
        this.absorb(header.heartbeats);
        this.considerEpoch(header.epoch, header.ringHash, from);
        return { header: this.message() };
      },
      "ring-get": async () => {
        const ring = this.deps.ring();
        if (!ring) throw new DynamoError("not_found", "no ring installed");
        return { header: {}, body: ring };
      },
      "ring-put": async ({ body }) => ({ header: { installed: await this.deps.installRing(body) } }),
    };
  }

  /** One gossip round; exported for tests that want to drive rounds by hand. */
  async round(): Promise<void> {
    this.version = Math.max(this.version + 1, Math.floor(this.deps.now()));
    const ring = this.deps.ring();
    const targets = ring ? this.pickMembers(ring) : this.deps.seedClients();
    await Promise.all(targets.map((client) => this.exchange(client)));
  }

  private async exchange(client: PeerClient): Promise<void> {
    const mine = this.message();
    const { epoch: myEpoch, ringHash: myHash } = mine;
    try {
      const res = await client.call("gossip", { header: mine }, this.options.intervalMs * 4);
      this.absorb(res.header.heartbeats);
      const { epoch: theirEpoch, ringHash: theirHash } = res.header;
      // Equal epochs with different rings are settled by the content hash: the greater one is pulled or pushed.
      if (theirEpoch > myEpoch || (theirEpoch === myEpoch && theirHash > myHash)) await this.pull(client);
      else if (theirEpoch < myEpoch || (theirEpoch === myEpoch && theirHash < myHash)) {
        const ring = this.deps.ring();
        if (ring) await client.call("ring-put", { header: {}, body: ring });
      }
    } catch {
      // An unreachable member simply sends no heartbeat; the failure detector draws the conclusion.
    }
  }

  private considerEpoch(epoch: number, hash: string, from: string): void {
    const mine = this.deps.ring()?.epoch ?? 0;
    if (epoch < mine || (epoch === mine && hash <= this.deps.ringHash())) return;
    const client = this.deps.peer(from);
    if (client) void this.pull(client);
  }

  private async pull(client: PeerClient): Promise<void> {
    if (this.pulling) return;
    this.pulling = true;
    try {
      const ring = (await client.call("ring-get", { header: {} })).body;
      if (await this.deps.installRing(ring)) this.deps.log(`installed ring epoch ${ring.epoch} learnt by gossip from ${client.url}`);
    } catch (err) {
      this.deps.log(`could not pull the ring from ${client.url}: ${(err as Error).message}`);
    } finally {
      this.pulling = false;
    }
  }

  private message(): { epoch: number; ringHash: string; heartbeats: Record<string, Heartbeat> } {
    return { epoch: this.deps.ring()?.epoch ?? 0, ringHash: this.deps.ringHash(), heartbeats: this.digest() };
  }

  private digest(): Record<string, Heartbeat> {
    const digest: Record<string, Heartbeat> = { [this.deps.self]: [this.generation, this.version] };
    for (const [id, hb] of this.heartbeats) if (id !== this.deps.self) digest[id] = hb;
    return digest;
  }

  /** Folds in the heartbeats of ring members; names that are not members are ignored, so a peer cannot grow the map. */
  private absorb(digest: Record<string, Heartbeat>): void {
    const now = this.deps.now();
    const members = this.deps.ring()?.members ?? {};
    for (const [id, hb] of Object.entries(digest)) {
      if (id === this.deps.self || !Object.hasOwn(members, id)) continue;
      const known = this.heartbeats.get(id);
      if (known && (hb[0] < known[0] || (hb[0] === known[0] && hb[1] <= known[1]))) continue;
      this.heartbeats.set(id, [hb[0], hb[1]]);
      const leftAt = this.leaving.get(id);
      if (leftAt !== undefined && hb[0] > leftAt) {
        this.leaving.delete(id);
        this.deps.log(`${id} is back (a new process); counting it as up again`);
      }
      if (this.isFresh(id, hb, now)) this.deps.detector.heartbeat(id, now);
    }
  }

  /**
   * Whether a newer heartbeat is also a recent one. A frame can arrive long after it was sent: when a cut heals, the
   * sender's kernel retransmits what sat in its socket buffers, even if the sender froze or died meanwhile, and a
   * member that relays a heartbeat may have held it for a while. Counting such a heartbeat as proof of life would keep
   * a frozen member "up" for as long as old frames keep arriving (seed 1130). The version is the sender's monotonic
   * clock, so (arrival - version) is the clocks' offset plus the delay; a heartbeat whose delay exceeds the smallest
   * seen by more than `heartbeatMaxDelayMs` is old news. Senders that count rounds instead of milliseconds (older
   * releases) cannot be judged, and every newer heartbeat of theirs counts, as before.
   */
  private isFresh(id: string, [generation, version]: Heartbeat, now: number): boolean {
    const offset = now - version;
    const clock = this.clocks.get(id);
    if (!clock || clock.generation !== generation) {
      this.clocks.set(id, { generation, minOffset: offset, lastAt: now, firstAt: now, firstVersion: version });
      return true;
    }
    clock.minOffset = Math.min(offset, clock.minOffset + (now - clock.lastAt) * OFFSET_DRIFT_ALLOWANCE);
    clock.lastAt = now;
    const observedMs = now - clock.firstAt;
    const countsMilliseconds = version - clock.firstVersion >= observedMs / 2;
    if (observedMs < this.options.heartbeatMaxDelayMs || !countsMilliseconds) return true;
    return offset - clock.minOffset <= this.options.heartbeatMaxDelayMs;
  }

  private pickMembers(ring: Ring): PeerClient[] {
    const others = Object.keys(ring.members).filter((id) => id !== this.deps.self);
    for (let i = others.length - 1; i > 0; i--) {
      const j = Math.floor(this.deps.random() * (i + 1));
      [others[i], others[j]] = [others[j]!, others[i]!];
    }
    return others
      .slice(0, this.options.fanout)
      .map((id) => this.deps.peer(id))
      .filter((c): c is PeerClient => c !== undefined);
  }
}
