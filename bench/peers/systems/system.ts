/**
 * What a system under test looks like to the harness: how to make it available on this machine (`prepare`: install a
 * package, fetch jars, find a binary), how to start it on loopback, and once running, the rows it is measured as
 * (etcd is measured twice, with linearizable and with serializable reads), the processes whose CPU it spends, how to
 * take one node away, and how to stop it completely.
 */
import type { ServerRuntime } from "../../runtime.js";
import type { KvTarget } from "../../ycsb/target.js";

export const SYSTEM_NAMES = ["store", "store-plain", "store-rmw", "cassandra", "etcd", "redis"] as const;
export type SystemName = (typeof SYSTEM_NAMES)[number];
/**
 * What a run measures unless `--systems` says otherwise. `store-plain` is left out: it measures what the peer link's TLS
 * costs (etcd, Cassandra and Redis run without TLS here), which a comparison of the systems does not need every time.
 */
export const DEFAULT_SYSTEMS: readonly SystemName[] = ["store", "store-rmw", "cassandra", "etcd", "redis"];

/** One row of the results: a system driven one particular way. */
export interface Variant {
  /** Row label, e.g. `etcd-serializable`. */
  label: string;
  target: KvTarget;
}

export interface StartContext {
  /** Sync every write to disk before acknowledging it (`--durable`). */
  durable: boolean;
  /** Concurrent closed-loop clients; connection pools are sized for them. */
  clients: number;
  /** Where the system keeps its data and logs; removed after it stops. */
  workDir: string;
  log: (line: string) => void;
}

export interface RunningSystem {
  variants: Variant[];
  /** Process ids whose process trees are the system, for CPU accounting; read at each sample. */
  rootPids(): number[];
  /**
   * Crashes one node or member (SIGKILL) and returns the variants again, with clients that use only the survivors.
   * Absent for a one-process system.
   */
  stopOne?(): Promise<Variant[]>;
  /** Closes the clients and stops every process, waiting until all have exited. */
  stop(): Promise<void>;
}

export interface PeerSystem {
  name: SystemName;
  /** One line: topology, replication, consistency, how updates are done. */
  setup: string;
  /** How a write is made durable in this mode (stated in the table). */
  durability(durable: boolean): string;
  /**
   * Installs or fetches what the system needs, before any measurement, and says how to start it. `runtime` is the
   * Node.js the store's processes run (`--runtime`); the other systems have runtimes of their own.
   */
  prepare(log: (line: string) => void, runtime: ServerRuntime): Promise<PreparedSystem>;
}

export interface PreparedSystem {
  /** What exactly runs, e.g. `etcd 3.6.8`. */
  version: string;
  start(context: StartContext): Promise<RunningSystem>;
}

/** Request deadline for every client: generous, so a slow request shows as a latency outlier rather than an error. */
export const REQUEST_TIMEOUT_MS = 10_000;
/** How long a cluster start may take before the harness gives up (JVMs on a busy two-core machine are slow). */
export const START_TIMEOUT_MS = 180_000;
