/**
 * The impure half of reconciling one DynamoCluster: observe (API server and the nodes' admin APIs), decide with the
 * pure functions of ../reconcile, act (server-side apply, deletes for a replacement, one ring step), and write the
 * status. `reconcile(key)` never branches on what woke it; it returns when to look again.
 */
import type { KubernetesObject, V1Pod, V1Secret, V1StatefulSet } from "@kubernetes/client-node";
import { isDeepStrictEqual } from "node:util";
import type { AdminClient } from "../../driver/index.js";
import type { ClientTlsOptions } from "../../node/tls/index.js";
import { newestRing, type Ring } from "../../node/ring/index.js";
import {
  API_VERSION,
  InvalidClusterError,
  KIND,
  PLURAL,
  largestN,
  parseDynamoCluster,
  specProblems,
  type DynamoCluster,
  type DynamoClusterStatus,
} from "../api/index.js";
import { isNotFound, objectPath, type KubeApi } from "../kube/api-client.js";
import {
  buildStatus,
  desiredMembers,
  desiredObjects,
  memberAddress,
  newIncarnations,
  nextRollingRestart,
  observePod,
  observeStatefulSet,
  rebalanceEvents,
  reachableAddresses,
  replacementToStart,
  requeueAfterMs,
  rolloutProgress,
  statefulSetReplicas,
  verdict,
  type NodeProbe,
  type Observation,
  type PassOutcome,
  type RingStepper,
  type RingView,
} from "../reconcile/index.js";
import {
  LABEL_MANAGED_BY,
  MANAGED_BY,
  clientScheme,
  claimName,
  generateToken,
  objectNames,
  selectorString,
  tokenOf,
  type OperatorPods,
} from "../resources/index.js";
import type { NodeTlsReport } from "../certificates/index.js";
import { ClusterCertificates, readStoredCertificates, type CertificateInputs } from "./certificates.js";
import type { EventRecorder } from "./events.js";
import { NodeZones } from "./node-zones.js";
import type { OperatorMetrics } from "./metrics.js";

export const FIELD_MANAGER = "dynamo-operator";

export interface ClusterControllerDeps {
  api: KubeApi;
  events: EventRecorder;
  metrics: OperatorMetrics;
  /** An admin client carrying a cluster's token and presenting the operator's client certificate for it. */
  adminFor(token: string, tls: () => ClientTlsOptions): AdminClient;
  /** The ring stepper for a cluster (the RingDriver in production). */
  stepperFor(cluster: DynamoCluster, admin: AdminClient): RingStepper;
  log(message: string): void;
  now?: () => number;
  /** Where the operator's own pods run, so the NetworkPolicy admits them to the peer port; undefined outside a cluster. */
  operatorPods?: OperatorPods;
  /** The cluster's DNS domain, for the names in certificates (default cluster.local). */
  clusterDomain?: string;
}

/** What the controller remembers between passes of one cluster; losing it (a restart) only delays decisions. */
interface ClusterMemory {
  token: string;
  admin: AdminClient;
  stepper: RingStepper;
  stepperKey: string;
  unreachableSinceMs: Record<string, number>;
  incarnations: Record<string, string>;
  certificates: ClusterCertificates;
}

export class ClusterController {
  private readonly memory = new Map<string, ClusterMemory>();
  private readonly now: () => number;
  private readonly nodeZones: NodeZones;

  constructor(private readonly deps: ClusterControllerDeps) {
    this.now = deps.now ?? Date.now;
    this.nodeZones = new NodeZones(deps.api, this.now, (m) => deps.log(m));
  }

  async reconcile(key: string): Promise<{ requeueAfterMs?: number } | undefined> {
    const [namespace, name] = key.split("/") as [string, string];
    const raw = await this.deps.api.find<unknown>(objectPath(API_VERSION, PLURAL, namespace, name));
    if (!raw) {
      this.memory.delete(key);
      this.deps.metrics.forgetCluster(namespace, name);
      return undefined;
    }
    let cluster: DynamoCluster;
    try {
      cluster = parseDynamoCluster(raw);
    } catch (err) {
      if (!(err instanceof InvalidClusterError)) throw err;
      this.deps.log(`${key}: ${err.message}`);
      return undefined;
    }
    // Deleting the cluster deletes what it owns through owner references; there is nothing to hand off to.
    if (cluster.metadata.deletionTimestamp) return undefined;

    const problems = specProblems(cluster.spec);
    const secret = await this.deps.api.find<V1Secret>(objectPath("v1", "secrets", namespace, objectNames(name).secret));
    const memory = this.remember(key, cluster, tokenOf(secret));
    await memory.certificates.prepare(cluster, await readStoredCertificates(this.deps.api, cluster));
    const observation = await this.observe(cluster, memory);
    const outcome: PassOutcome = {
      problems,
      membership: undefined,
      step: undefined,
      rollout: { kind: "none" },
      statefulSetReplicas: observation.statefulSet?.replicas,
      replacement: { kind: "none" },
    };

    if (problems.length === 0 && !cluster.spec.paused) await this.act(cluster, memory, observation, outcome);

    const status = buildStatus(observation, outcome);
    await this.writeStatus(cluster, status);
    this.deps.metrics.observeCluster(namespace, name, status);
    for (const e of rebalanceEvents(cluster.status?.rebalance, status.rebalance)) await this.deps.events.record(cluster, "Normal", e.reason, e.message);
    if (problems.length > 0) await this.deps.events.record(cluster, "Warning", "InvalidSpec", problems.join("; "));
    return { requeueAfterMs: requeueAfterMs(outcome, verdict(observation, outcome)) };
  }

  private remember(key: string, cluster: DynamoCluster, existingToken: string | undefined): ClusterMemory {
    const previous = this.memory.get(key);
    const token = existingToken ?? previous?.token ?? generateToken();
    const stepperKey = `${token}/${cluster.spec.partitions}/${largestN(cluster.spec)}`;
    if (previous && previous.stepperKey === stepperKey) return previous;
    const certificates = previous?.certificates ?? new ClusterCertificates({ clusterDomain: this.deps.clusterDomain ?? "cluster.local", now: this.now });
    const admin = this.deps.adminFor(token, () => certificates.adminTls());
    const memory: ClusterMemory = {
      token,
      admin,
      stepper: this.deps.stepperFor(cluster, admin),
      stepperKey,
      // A fresh operator (restarted, or a new leader) picks up the unreachable clocks its predecessor wrote to the status.
      unreachableSinceMs: previous?.unreachableSinceMs ?? unreachableClocksOf(cluster.status),
      incarnations: previous?.incarnations ?? {},
      certificates,
    };
    this.memory.set(key, memory);
    return memory;
  }

  private async observe(cluster: DynamoCluster, memory: ClusterMemory): Promise<Observation> {
    const namespace = cluster.metadata.namespace as string;
    const name = cluster.metadata.name;
    const [sts, podList] = await Promise.all([
      this.deps.api.find<V1StatefulSet>(objectPath("apps/v1", "statefulsets", namespace, objectNames(name).statefulSet)),
      this.deps.api.get<{ items: V1Pod[] }>(`${objectPath("v1", "pods", namespace)}?labelSelector=${encodeURIComponent(selectorString(name))}`),
    ]);
    const pods = podList.items
      .map((p) => observePod(name, p))
      .filter((p) => p !== undefined)
      .sort((a, b) => a.ordinal - b.ordinal);
    const zones = await this.nodeZones.zonesOf(pods.flatMap((p) => (p.nodeName ? [p.nodeName] : [])));
    for (const pod of pods) pod.zone = pod.nodeName ? zones.get(pod.nodeName) : undefined;
    const probes: Record<string, NodeProbe> = {};
    const rings: (Ring | undefined)[] = [];
    let answered = 0;
    const scheme = clientScheme(cluster);
    await Promise.all(
      pods
        .filter((p) => p.running && !p.deleting)
        .map(async (pod) => {
          const address = memberAddress(pod, scheme);
          if (!address) return;
          try {
            const info = await memory.admin.node(address.peerUrl);
            if (info.id !== pod.name) throw new Error(`the node at ${address.peerUrl} calls itself ${info.id}`);
            probes[pod.name] = { reachable: true, incarnation: info.incarnation, epoch: info.epoch, tls: info.tls, info };
            rings.push(await memory.admin.ring(address.peerUrl));
            answered++;
          } catch (err) {
            probes[pod.name] = { reachable: false, error: (err as Error).message };
          }
        }),
    );
    const ring = newestRing(rings);
    const view: RingView = { known: answered > 0, ring };
    const nowMs = this.now();
    this.trackUnreachable(memory, ring, probes, nowMs);
    return {
      cluster,
      statefulSet: observeStatefulSet(sts),
      pods,
      probes,
      ring: view,
      unreachableSinceMs: { ...memory.unreachableSinceMs },
      nowMs,
    };
  }

  /** Starts each member's unreachable clock when it first fails to answer, and stops it when it answers again. */
  private trackUnreachable(memory: ClusterMemory, ring: Ring | undefined, probes: Record<string, NodeProbe>, nowMs: number): void {
    if (!ring) return;
    for (const id of Object.keys(ring.members)) {
      if (probes[id]?.reachable === true) delete memory.unreachableSinceMs[id];
      else memory.unreachableSinceMs[id] ??= nowMs;
    }
    for (const id of Object.keys(memory.unreachableSinceMs)) if (!ring.members[id]) delete memory.unreachableSinceMs[id];
  }

  private async act(cluster: DynamoCluster, memory: ClusterMemory, observation: Observation, outcome: PassOutcome): Promise<void> {
    const namespace = cluster.metadata.namespace as string;
    const current = observation.statefulSet?.replicas;
    const replicas = statefulSetReplicas(cluster.spec.replicas, current, observation.ring, cluster.metadata.name);
    outcome.statefulSetReplicas = replicas;
    const certificates = await memory.certificates.step(cluster, certificateInputs(observation, replicas), cluster.status?.tls);
    outcome.certificates = certificates.report;
    try {
      const objects = desiredObjects(cluster, { token: memory.token, statefulSetReplicas: replicas, certificateObjects: certificates.objects, operatorPods: this.deps.operatorPods });
      for (const object of objects) await this.applyOwned(object);
      if (!cluster.spec.network.policy.enabled) await this.removeNetworkPolicy(cluster);
    } catch (err) {
      outcome.applyError = (err as Error).message;
      await this.deps.events.record(cluster, "Warning", "ApplyFailed", outcome.applyError);
      return;
    }
    for (const e of certificates.report.events) await this.deps.events.record(cluster, e.type, e.reason, e.message);
    if (current !== undefined && replicas !== current) {
      const verb = replicas > current ? "ScaleUp" : "ScaleDown";
      outcome.action = `StatefulSet replicas ${current} → ${replicas}`;
      await this.deps.events.record(cluster, "Normal", verb, `${outcome.action}${replicas < current ? " (the removed ordinals hold no partitions)" : ""}`);
    }

    await this.noteIncarnations(cluster, memory, observation);

    outcome.replacement = replacementToStart(observation);
    if (outcome.replacement.kind === "replace") {
      const pod = observation.pods.find((p) => p.name === (outcome.replacement as { pod: string }).pod);
      if (pod) {
        // The claim first: it stays (protected) until the pod is gone, so the recreated pod gets a fresh volume.
        await this.deps.api.delete(objectPath("v1", "persistentvolumeclaims", namespace, claimName(pod.name)));
        await this.deps.api.delete(objectPath("v1", "pods", namespace, pod.name), { uid: pod.uid });
        outcome.action = `replacing ${pod.name}: deleted its claim and pod`;
        await this.deps.events.record(cluster, "Normal", "Replacing", `${outcome.action}; it returns as a new incarnation and is rebuilt from replicas`);
      }
    } else if (outcome.replacement.kind === "blocked") {
      await this.deps.events.record(cluster, "Warning", "ReplacementBlocked", `replacing ${outcome.replacement.pod} waits: ${outcome.replacement.reason}`);
    }

    if (outcome.replacement.kind === "none" && (await this.rollOnePod(cluster, observation, outcome))) return;

    outcome.membership = desiredMembers(observation);
    if (outcome.membership.kind !== "step") return;
    if (outcome.membership.dropped.length > 0) {
      await this.deps.events.record(cluster, "Warning", "MemberUnreachable", `reassigning the partitions of ${outcome.membership.dropped.join(", ")}: unreachable for ${cluster.spec.unreachableReplaceAfterSeconds}s`);
    }
    try {
      outcome.step = await memory.stepper.step(reachableAddresses(observation), outcome.membership.desired);
    } catch (err) {
      outcome.stepError = (err as Error).message;
      await this.deps.events.record(cluster, "Warning", "RingStepFailed", outcome.stepError);
      return;
    }
    if (outcome.step.action) {
      outcome.action = outcome.step.action;
      await this.deps.events.record(cluster, "Normal", "RingChanged", outcome.step.action);
    }
  }

  /** Applies one owned object; a kind the API server does not serve (cert-manager not installed) is named plainly. */
  private async applyOwned(object: KubernetesObject): Promise<void> {
    try {
      await this.deps.api.apply(object, FIELD_MANAGER);
    } catch (err) {
      if (object.kind === "Certificate" && isNotFound(err)) {
        throw new Error(`cert-manager is not installed: the API server serves no ${object.apiVersion} Certificate, which spec.tls.issuerRef needs`, { cause: err });
      }
      throw err;
    }
  }

  /** With `spec.network.policy.enabled: false`, the NetworkPolicy the operator made earlier goes (only one it labelled). */
  private async removeNetworkPolicy(cluster: DynamoCluster): Promise<void> {
    const path = objectPath("networking.k8s.io/v1", "networkpolicies", cluster.metadata.namespace, objectNames(cluster.metadata.name).networkPolicy);
    const existing = await this.deps.api.find<KubernetesObject>(path);
    if (existing?.metadata?.labels?.[LABEL_MANAGED_BY] === MANAGED_BY) await this.deps.api.delete(path, { uid: existing.metadata.uid });
  }

  /**
   * One step of a rolling update: deletes the next outdated pod when the cluster can spare it (its node drains, and
   * the StatefulSet controller creates it again at the update revision). Returns whether it deleted one, which is
   * the pass's one mutating step.
   */
  private async rollOnePod(cluster: DynamoCluster, observation: Observation, outcome: PassOutcome): Promise<boolean> {
    outcome.rollout = nextRollingRestart(observation);
    if (outcome.rollout.kind !== "restart") return false;
    const { pod, uid } = outcome.rollout;
    await this.deps.api.delete(objectPath("v1", "pods", cluster.metadata.namespace as string, pod), { uid });
    const progress = rolloutProgress(observation);
    outcome.action = `rolling update to ${progress.updateRevision}: restarting ${pod} (${progress.updated} of ${progress.total} pods updated)`;
    await this.deps.events.record(cluster, "Normal", "RollingUpdate", outcome.action);
    return true;
  }

  /** Records an Event once per new incarnation seen under a member id: a node came back with a wiped disk. */
  private async noteIncarnations(cluster: DynamoCluster, memory: ClusterMemory, observation: Observation): Promise<void> {
    for (const id of newIncarnations(observation)) {
      const probe = observation.probes[id];
      if (probe?.reachable !== true || memory.incarnations[id] === probe.incarnation) continue;
      memory.incarnations[id] = probe.incarnation;
      await this.deps.events.record(cluster, "Normal", "NewIncarnation", `${id} came back as incarnation ${probe.incarnation}; its partitions are rebuilt from the other replicas`);
    }
  }

  /** Writes the status through the status subresource, and only when it changed, so a quiet pass writes nothing. */
  private async writeStatus(cluster: DynamoCluster, status: DynamoClusterStatus): Promise<void> {
    if (isDeepStrictEqual(stripUndefined(cluster.status), stripUndefined(status))) return;
    try {
      await this.deps.api.apply(
        { apiVersion: API_VERSION, kind: KIND, metadata: { name: cluster.metadata.name, namespace: cluster.metadata.namespace }, status } as never,
        FIELD_MANAGER,
        "status",
      );
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}

/** The unreachable-since clocks recorded in a status, by member id. */
export function unreachableClocksOf(status: DynamoClusterStatus | undefined): Record<string, number> {
  const clocks: Record<string, number> = {};
  for (const member of status?.members ?? []) {
    const since = member.unreachableSince === undefined ? NaN : Date.parse(member.unreachableSince);
    if (Number.isFinite(since)) clocks[member.id] = since;
  }
  return clocks;
}

/**
 * The pods that need a peer certificate (every ordinal the StatefulSet may run, and every pod that still exists) and
 * what the running ones reported about the certificates they use.
 */
export function certificateInputs(observation: Observation, statefulSetReplicas: number): CertificateInputs {
  const name = observation.cluster.metadata.name;
  const count = Math.max(observation.cluster.spec.replicas, statefulSetReplicas, observation.statefulSet?.replicas ?? 0);
  const pods = new Set(Array.from({ length: count }, (_, i) => `${name}-${i}`));
  for (const pod of observation.pods) pods.add(pod.name);
  const nodes: NodeTlsReport[] = observation.pods
    .filter((p) => p.running && !p.deleting)
    .map((p) => {
      const probe = observation.probes[p.name];
      return probe?.reachable ? { pod: p.name, reachable: true, peer: probe.tls?.peer, client: probe.tls?.client } : { pod: p.name, reachable: false };
    });
  return { pods: [...pods].sort((a, b) => a.localeCompare(b, "en", { numeric: true })), nodes };
}

function stripUndefined(value: unknown): unknown {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}
