/**
 * A backup's or restore's view of a running cluster, from outside it: the ring and the bucket configuration read
 * through the nodes' admin API, and one peer-protocol connection per member for scanning partitions and merging
 * pages. It holds the cluster token and speaks mutual TLS where the peer ports do, as the RingDriver does.
 */
import { AdminClient } from "../driver/index.js";
import { DynamoError } from "../node/errors/index.js";
import { PeerClient } from "../node/peer/index.js";
import type { DecodedEntry, NodeConfigView, RawEntry } from "../node/protocol/index.js";
import type { Ring } from "../node/ring/index.js";
import type { ClientTlsOptions } from "../node/tls/index.js";
import { BackupError } from "./errors.js";
import type { ScanPage } from "./replica-merge.js";

export interface ClusterConnection {
  /** Peer-port URLs to start from (any members); the ring names the rest. */
  peerUrls: string[];
  token: string;
  /** Client TLS material for `https` peer URLs (read at each new connection). */
  tls?: () => ClientTlsOptions;
  /** How long one page may take to arrive. */
  pageTimeoutMs?: number;
}

/** The peer client's id towards the nodes, in their logs. */
const FROM = "dynamo-backup";

export class ClusterAccess {
  private readonly admin: AdminClient;
  private readonly peers = new Map<string, PeerClient>();
  private current: Ring | undefined;

  private constructor(
    private readonly connection: ClusterConnection,
    readonly config: NodeConfigView,
  ) {
    this.admin = new AdminClient(connection.token, 10_000, connection.tls);
  }

  /** Reads the ring and the configuration from the first member that answers. */
  static async open(connection: ClusterConnection): Promise<ClusterAccess> {
    if (connection.peerUrls.length === 0) throw new BackupError("cluster_unavailable", "no node to talk to");
    const admin = new AdminClient(connection.token, 10_000, connection.tls);
    const problems: string[] = [];
    for (const url of connection.peerUrls) {
      try {
        const config = await admin.config(url);
        const access = new ClusterAccess(connection, config);
        await access.refreshRing();
        return access;
      } catch (err) {
        problems.push(`${url}: ${describe(err)}`);
      }
    }
    throw new BackupError("cluster_unavailable", `no node answered on its peer port: ${problems.join("; ")}`);
  }

  get ring(): Ring {
    if (!this.current) throw new Error("invariant violated: the cluster has no ring");
    return this.current;
  }

  /** Asks every member it knows (and the URLs it started from) for its ring, and keeps the newest. */
  async refreshRing(): Promise<Ring> {
    const urls = new Set([...this.connection.peerUrls, ...Object.values(this.current?.members ?? {}).map((m) => m.peerUrl)]);
    const rings = await Promise.all([...urls].map((url) => this.admin.ring(url).catch(() => undefined)));
    let newest = this.current;
    for (const ring of rings) if (ring && (!newest || ring.epoch > newest.epoch)) newest = ring;
    if (!newest) throw new BackupError("cluster_unavailable", "no node has a ring yet: is the cluster formed?");
    this.current = newest;
    return newest;
  }

  /** One page of a partition from one member. */
  async scan(member: string, partition: number, after: { bucket: string; key: Buffer } | undefined, limit: number): Promise<ScanPage & { bodyBytes: number }> {
    const res = await this.peer(member).call("scan", { header: { partition, limit, after } }, this.connection.pageTimeoutMs ?? 60_000);
    return { entries: res.body as DecodedEntry[], last: res.header.last, done: res.header.done, canVote: res.header.canVote ?? true, epoch: res.header.epoch, bodyBytes: res.bodyBytes };
  }

  /** Merges a page of records into one member's replica; answers how many changed and the member's ring epoch. */
  async mergePage(member: string, partition: number, entries: RawEntry[]): Promise<{ changed: number; epoch: number }> {
    const res = await this.peer(member).call("merge-page", { header: { partition }, body: entries }, this.connection.pageTimeoutMs ?? 60_000);
    return res.header;
  }

  close(): void {
    for (const client of this.peers.values()) client.close();
    this.peers.clear();
  }

  private peer(member: string): PeerClient {
    const address = this.current?.members[member];
    if (!address) throw new DynamoError("not_ready", `${member} is not a member of ring epoch ${this.current?.epoch ?? 0}`);
    let client = this.peers.get(member);
    if (!client || client.url !== address.peerUrl) {
      client?.close();
      client = new PeerClient(
        address.peerUrl,
        { token: this.connection.token, timeoutMs: 10_000, inFlightMax: 256, reconnectDelayMs: 500, from: FROM, tls: this.connection.tls },
        member,
      );
      this.peers.set(member, client);
    }
    return client;
  }
}

export function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
