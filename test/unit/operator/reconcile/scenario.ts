// Builds observations for the reconcile decision tests: a cluster, its pods, what their nodes answered, and a ring.
import type { Ring } from "../../../../node/ring/index.js";
import type { DynamoClusterSpecInput } from "../../../../operator/api/index.js";
import type { NodeProbe, Observation, PodObservation } from "../../../../operator/reconcile/index.js";
import { dynamoCluster } from "../fixtures.js";

export const NOW = 1_700_000_000_000;

export function pod(ordinal: number, overrides: Partial<PodObservation> = {}): PodObservation {
  return {
    name: `kv-${ordinal}`,
    ordinal,
    uid: `uid-${ordinal}`,
    phase: "Running",
    ready: true,
    running: true,
    podIp: `127.0.0.${10 + ordinal}`,
    deleting: false,
    replaceRequested: false,
    createdAtMs: NOW - 600_000,
    revision: "r1",
    ...overrides,
  };
}

/** Where pod `kv-N` of the scenario listens (its IP as pod() gives it), as the ring records it. */
function addressOf(id: string): { peerUrl: string; clientUrl: string } {
  const ip = `127.0.0.${10 + Number(id.split("-").pop())}`;
  return { peerUrl: `https://${ip}:8081`, clientUrl: `https://${ip}:8080` };
}

/** A ring over `members` with partitions dealt round-robin; `pending` transfers as given. */
export function ring(members: string[], options: { partitions?: number; epoch?: number; owners?: string[]; pending?: Ring["pending"]; state?: Record<string, "joining" | "valid" | "leaving"> } = {}): Ring {
  const partitions = options.partitions ?? 16;
  const owners = options.owners ?? Array.from({ length: partitions }, (_, i) => members[i % members.length] as string);
  return {
    epoch: options.epoch ?? 5,
    partitions,
    owners,
    pending: options.pending ?? [],
    members: Object.fromEntries(
      members.map((id) => [
        id,
        { id, ...addressOf(id), incarnation: `inc-${id}`, state: options.state?.[id] ?? "valid" },
      ]),
    ),
  };
}

export interface ScenarioOptions {
  spec?: DynamoClusterSpecInput;
  pods?: PodObservation[];
  ring?: Ring | undefined;
  ringKnown?: boolean;
  probes?: Record<string, NodeProbe>;
  unreachableSinceMs?: Record<string, number>;
  stsReplicas?: number;
  /** The StatefulSet's update revision (pods are created at "r1"). */
  updateRevision?: string;
}

export function observation(options: ScenarioOptions = {}): Observation {
  const pods = options.pods ?? [pod(0), pod(1), pod(2)];
  const probes: Record<string, NodeProbe> = {};
  for (const p of pods) if (p.running) probes[p.name] = { reachable: true, incarnation: `inc-${p.name}`, epoch: options.ring?.epoch ?? 0 };
  Object.assign(probes, options.probes ?? {});
  const stsReplicas = options.stsReplicas ?? pods.length;
  return {
    cluster: dynamoCluster(options.spec ?? { replicas: 3 }),
    statefulSet: { replicas: stsReplicas, readyReplicas: pods.filter((p) => p.ready).length, updatedReplicas: stsReplicas, currentRevision: "r1", updateRevision: options.updateRevision ?? "r1", generation: 1, observedGeneration: 1 },
    pods,
    probes,
    ring: { known: options.ringKnown ?? true, ring: "ring" in options ? options.ring : ring(pods.map((p) => p.name)) },
    unreachableSinceMs: options.unreachableSinceMs ?? {},
    nowMs: NOW,
  };
}
