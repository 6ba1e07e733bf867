/**
 * Leader election on a coordination.k8s.io/v1 Lease, so two operator replicas never reconcile at once. The holder
 * renews the lease every `retryPeriodMs`; another replica takes it over only once `leaseDurationMs` has passed since
 * the last renewal. Every write carries the resourceVersion it read, so two candidates racing for an expired lease
 * cannot both win: the API server refuses the second write with a conflict. A leader that cannot renew within
 * `renewDeadlineMs` gives up, and the operator then exits so it restarts clean as a follower.
 */
import { KubeApiError, isConflict, isNotFound, objectPath, type KubeApi } from "../kube/api-client.js";

export const DEFAULT_LEADER_ELECTION = {
  leaseName: "dynamo-operator",
  leaseDurationMs: 15_000,
  renewDeadlineMs: 10_000,
  retryPeriodMs: 2_000,
};

export type LeaderElectionOptions = typeof DEFAULT_LEADER_ELECTION & { namespace: string; identity: string };

interface Lease {
  apiVersion: "coordination.k8s.io/v1";
  kind: "Lease";
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

const microTime = (ms: number) => new Date(ms).toISOString().replace("Z", "000Z");
const TERM_EPOCH_MS = Date.UTC(2020, 0, 1);

export class LeaderElector {
  private leading = false;
  /** The Lease's transition count when this replica last acquired or renewed it: its term as leader. */
  private heldTerm: number | undefined;
  private stopped = false;
  private lastRenewMs = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly api: KubeApi,
    private readonly options: LeaderElectionOptions,
    private readonly callbacks: { onStartedLeading(): void; onStoppedLeading(): void; log(message: string): void },
    private readonly now: () => number = Date.now,
  ) {}

  get isLeader(): boolean {
    return this.leading;
  }

  /**
   * This leader's term: the Lease's transition count as it holds it, which grows with every change of holder. The
   * RingDriver stamps it on the rings it commits, and nodes refuse rings of an older term, which fences a leader that
   * lost the Lease without knowing it yet (frozen, or cut off from the API server). Undefined while not leading.
   */
  get term(): number | undefined {
    return this.leading ? this.heldTerm : undefined;
  }

  start(): void {
    void this.tick();
  }

  /** Stops renewing and, when leading, releases the lease so a follower takes over without waiting for it to expire. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (!this.leading) return;
    this.leading = false;
    try {
      const lease = await this.api.get<Lease>(this.path());
      if (lease.spec.holderIdentity === this.options.identity) {
        await this.api.replace(this.path(), { ...lease, spec: { ...lease.spec, holderIdentity: "", leaseDurationSeconds: 1 } });
      }
    } catch (err) {
      this.callbacks.log(`releasing the lease failed: ${(err as Error).message}`);
    }
  }

  private path(): string {
    return objectPath("coordination.k8s.io/v1", "leases", this.options.namespace, this.options.leaseName);
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    try {
      const held = await this.tryAcquireOrRenew();
      if (held) {
        this.lastRenewMs = this.now();
        if (!this.leading) {
          this.leading = true;
          this.callbacks.log(`became the leader (lease ${this.options.namespace}/${this.options.leaseName})`);
          this.callbacks.onStartedLeading();
        }
      } else if (this.leading) {
        this.lose("another replica holds the lease");
      }
    } catch (err) {
      this.callbacks.log(`lease ${this.options.leaseName}: ${(err as Error).message}`);
      if (this.leading && this.now() - this.lastRenewMs > this.options.renewDeadlineMs) this.lose("could not renew the lease in time");
    }
    if (!this.stopped) this.timer = setTimeout(() => void this.tick(), this.options.retryPeriodMs);
  }

  private lose(reason: string): void {
    this.leading = false;
    this.callbacks.log(`lost the leadership: ${reason}`);
    this.callbacks.onStoppedLeading();
  }

  /** One attempt: true when this replica holds the lease afterwards. */
  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = this.now();
    const identity = this.options.identity;
    const durationSeconds = Math.ceil(this.options.leaseDurationMs / 1000);
    let lease: Lease | undefined;
    try {
      lease = await this.api.get<Lease>(this.path());
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    if (!lease) {
      const created: Lease = {
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: { name: this.options.leaseName, namespace: this.options.namespace },
        // The count starts from the Lease's creation time (seconds since 2020), not 0, so a Lease deleted and created
        // again still counts upwards and its new leader's term is above every term the nodes have seen.
        spec: {
          holderIdentity: identity,
          leaseDurationSeconds: durationSeconds,
          acquireTime: microTime(now),
          renewTime: microTime(now),
          leaseTransitions: Math.floor((now - TERM_EPOCH_MS) / 1000),
        },
      };
      try {
        await this.api.create(objectPath("coordination.k8s.io/v1", "leases", this.options.namespace), created);
        this.heldTerm = created.spec.leaseTransitions;
        return true;
      } catch (err) {
        if (isConflict(err) || (err instanceof KubeApiError && err.reason === "AlreadyExists")) return false;
        throw err;
      }
    }
    const holder = lease.spec.holderIdentity ?? "";
    const renewedMs = lease.spec.renewTime ? new Date(lease.spec.renewTime).getTime() : 0;
    const expired = now - renewedMs > (lease.spec.leaseDurationSeconds ?? durationSeconds) * 1000;
    if (holder !== identity && holder !== "" && !expired) return false;
    const taking = holder !== identity;
    const spec: Lease["spec"] = {
      ...lease.spec,
      holderIdentity: identity,
      leaseDurationSeconds: durationSeconds,
      renewTime: microTime(now),
      ...(taking ? { acquireTime: microTime(now), leaseTransitions: (lease.spec.leaseTransitions ?? 0) + 1 } : {}),
    };
    try {
      await this.api.replace(this.path(), { ...lease, spec });
      this.heldTerm = spec.leaseTransitions ?? 0;
      return true;
    } catch (err) {
      if (isConflict(err)) return false;
      throw err;
    }
  }
}
