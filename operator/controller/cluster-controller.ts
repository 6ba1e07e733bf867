/**
 * The impure half of reconciling one DynamoCluster: observe (the API server, and each node's admin API once), plan
 * with the pure functions of ../reconcile (`planPass`: typed actions), execute the plan (server-side apply, then the
 * actions in order: a pod deleted for a replacement or a rolling update, or one ring step on the same observation),
 * and write the status. `reconcile(key)` never branches on what woke it; it returns when to look again.
 */
import type { KubernetesObject, V1Pod, V1Secret, V1StatefulSet } from "@kubernetes/client-node";
import { isDeepStrictEqual } from "node:util";
import type { AdminClient } from "../../driver/index.js";
import type { ClientTlsOptions } from "../../node/tls/index.js";
import type { Ring } from "../../node/ring/index.js";
import {
  API_VERSION,
  InvalidClusterError,
  KIND,
  PLURAL,
  largestN,
  parseDynamoCluster,
  specProblems,
  type BootstrapStatus,
  type DynamoCluster,
  type DynamoClusterStatus,
} from "../api/index.js";
import { withBootstrap } from "../reconcile/bootstrap.js";
import { BOOTSTRAP_REQUEUE_MS, bootstrapStep } from "./bootstrap.js";
import { isNotFound, objectPath, type ObjectApi } from "../kube/api-client.js";
import {
  actionSummary,
  buildStatus,
  desiredObjects,
  memberAddress,
  observePod,
  observeStatefulSet,
  planPass,
  rebalanceEvents,
  requeueAfterMs,
  verdict,
  type NodeProbe,
  type Observation,
  type PassOutcome,
  type PassAction,
  type PassPlan,
  type RingObservation,
  type RingStepper,
  type StepResult,
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
  api: ObjectApi;
  events: EventRecorder;
  metrics: OperatorMetrics;
  /** An admin client carrying a cluster's token and presenting the operator's client certificate for it. */
  adminFor(token: string, tls: () => ClientTlsOptions): AdminClient;
  /** The storage image of clusters that name none. */
  defaultImage: string;
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
  /**
   * The newest ring a node answered with in an earlier pass. A pass in which no node answers (the operator's calls
   * time out on a busy cluster, or its network to the pods is cut) reports the cluster against it rather than as one
   * with no ring; the pass's decisions still see that the ring is not known and wait.
   */
  lastRing?: Ring;
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
    const { observation, answers } = await this.observe(cluster, memory);
    const outcome =
      problems.length === 0 && !cluster.spec.paused
        ? await this.execute(cluster, memory, observation, answers, planPass(observation, { announcedIncarnations: memory.incarnations }))
        : idleOutcome(problems, observation);

    let status = buildStatus(observation, outcome);
    // spec.bootstrap.fromBackup: the restore Job runs once the cluster settles, and holds Available back until it is done.
    const bootstrap = await this.bootstrap(cluster, observation, outcome);
    if (bootstrap) status = withBootstrap(status, bootstrap, cluster.status?.conditions, cluster.metadata.generation ?? 0, observation.nowMs);
    await this.writeStatus(cluster, status);
    this.deps.metrics.observeCluster(namespace, name, status);
    for (const e of rebalanceEvents(cluster.status?.rebalance, status.rebalance)) await this.deps.events.record(cluster, "Normal", e.reason, e.message);
    if (problems.length > 0) await this.deps.events.record(cluster, "Warning", "InvalidSpec", problems.join("; "));
    const requeue = requeueAfterMs(outcome, verdict(observation, outcome));
    const restoring = bootstrap && bootstrap.phase !== "Restored" && bootstrap.phase !== "Failed";
    return { requeueAfterMs: restoring ? Math.min(requeue, BOOTSTRAP_REQUEUE_MS) : requeue };
  }

  /** The bootstrap's status this pass (a paused or invalid cluster keeps the one it had), or undefined without one. */
  private async bootstrap(cluster: DynamoCluster, observation: Observation, outcome: PassOutcome): Promise<BootstrapStatus | undefined> {
    if (!cluster.spec.bootstrap?.fromBackup) return undefined;
    if (outcome.problems.length > 0 || cluster.spec.paused) return cluster.status?.bootstrap ?? { phase: "Waiting", message: "waiting for the operator to act on the cluster" };
    const v = verdict(observation, outcome);
    return (await bootstrapStep(this.deps.api, this.deps.events, observation, v.phase === "Stable" && v.available[0], this.deps.defaultImage)).status;
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

  /** The pass's observation, and the nodes' answers it was made from, which the ring step decides on as well. */
  private async observe(cluster: DynamoCluster, memory: ClusterMemory): Promise<{ observation: Observation; answers: RingObservation }> {
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
    const scheme = clientScheme(cluster);
    const addresses = pods
      .filter((p) => p.running && !p.deleting)
      .map((pod) => memberAddress(pod, scheme))
      .filter((a) => a !== undefined);
    // The pass's one round of admin calls: the status, the decisions and the ring step all read these answers.
    const answers = await memory.stepper.observe(addresses);
    const probes: Record<string, NodeProbe> = {};
    for (const node of answers.nodes) {
      probes[node.id] = node.reachable
        ? { reachable: true, incarnation: node.info.incarnation, epoch: node.info.epoch, tls: node.info.tls, info: node.info }
        : { reachable: false, error: node.error };
    }
    const known = answers.nodes.some((n) => n.reachable);
    if (known && answers.newest) memory.lastRing = answers.newest;
    const view: RingView = { known, ring: known ? answers.newest : memory.lastRing };
    const nowMs = this.now();
    // Only a ring some node answered with starts unreachable clocks: when none answered, the operator cannot tell a
    // cluster that is down from its own calls failing, and a member's deadline must not run out on the latter.
    this.trackUnreachable(memory, answers.newest, probes, nowMs);
    const observation: Observation = {
      cluster,
      statefulSet: observeStatefulSet(sts),
      pods,
      probes,
      ring: view,
      unreachableSinceMs: { ...memory.unreachableSinceMs },
      nowMs,
    };
    return { observation, answers };
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

  /**
   * Carries out a plan: applies the owned objects (with the certificates they need), then each action in order. The
   * outcome is made from what was planned and what happened, once, at the end. An apply that fails ends the pass
   * before any action, and a ring step that fails is the last thing the pass tried.
   */
  private async execute(cluster: DynamoCluster, memory: ClusterMemory, observation: Observation, answers: RingObservation, plan: PassPlan): Promise<PassOutcome> {
    const certificates = await memory.certificates.step(cluster, certificateInputs(observation, plan.statefulSetReplicas), cluster.status?.tls);
    try {
      const objects = desiredObjects(cluster, { token: memory.token, statefulSetReplicas: plan.statefulSetReplicas, certificateObjects: certificates.objects, operatorPods: this.deps.operatorPods, defaultImage: this.deps.defaultImage });
      for (const object of objects) await this.applyOwned(object);
      if (!cluster.spec.network.policy.enabled) await this.removeNetworkPolicy(cluster);
    } catch (err) {
      const applyError = (err as Error).message;
      await this.deps.events.record(cluster, "Warning", "ApplyFailed", applyError);
      return { ...idleOutcome([], observation), statefulSetReplicas: plan.statefulSetReplicas, certificates: certificates.report, applyError };
    }
    for (const e of certificates.report.events) await this.deps.events.record(cluster, e.type, e.reason, e.message);

    const results: ActionResult[] = [];
    for (const action of plan.actions) {
      results.push(await this.run(cluster, memory, answers, action));
      if (results.at(-1)?.stepError !== undefined) break;
    }
    const ring = results.find((r) => r.step !== undefined || r.stepError !== undefined);
    const lastAction = results.findLast((r) => r.summary !== undefined)?.summary;
    return {
      problems: [],
      membership: plan.membership,
      statefulSetReplicas: plan.statefulSetReplicas,
      replacement: plan.replacement,
      rollout: plan.rollout,
      certificates: certificates.report,
      step: ring?.step,
      ...(ring?.stepError !== undefined ? { stepError: ring.stepError } : {}),
      ...(lastAction !== undefined ? { action: lastAction } : {}),
    };
  }

  /** Carries out one action: its API calls and its Event. Answers the line for `lastAction`, and a ring step's result. */
  private async run(cluster: DynamoCluster, memory: ClusterMemory, answers: RingObservation, action: PassAction): Promise<ActionResult> {
    const namespace = cluster.metadata.namespace as string;
    const summary = actionSummary(action);
    switch (action.kind) {
      case "scaleStatefulSet":
        await this.deps.events.record(cluster, "Normal", action.to > action.from ? "ScaleUp" : "ScaleDown", `${summary}${action.to < action.from ? " (the removed ordinals hold no partitions)" : ""}`);
        return { summary };
      case "announceIncarnation":
        memory.incarnations[action.member] = action.incarnation;
        await this.deps.events.record(cluster, "Normal", "NewIncarnation", `${action.member} came back as incarnation ${action.incarnation}; its partitions are rebuilt from the other replicas`);
        return {};
      case "recreateStuckPod":
        // It never ran the store, so nothing is lost; its claim stays, and the StatefulSet recreates it from the current template.
        await this.deps.api.delete(objectPath("v1", "pods", namespace, action.pod), { uid: action.uid });
        await this.deps.events.record(cluster, "Normal", "RecreatingPod", `${summary}; its claim is kept`);
        return { summary };
      case "replacePod":
        // The claim first: it stays (protected) until the pod is gone, so the recreated pod gets a fresh volume.
        await this.deps.api.delete(objectPath("v1", "persistentvolumeclaims", namespace, claimName(action.pod)));
        await this.deps.api.delete(objectPath("v1", "pods", namespace, action.pod), { uid: action.uid });
        await this.deps.events.record(cluster, "Normal", "Replacing", `${summary}; it returns as a new incarnation and is rebuilt from replicas`);
        return { summary };
      case "reportReplacementBlocked":
        await this.deps.events.record(cluster, "Warning", "ReplacementBlocked", `replacing ${action.pod} waits: ${action.reason}`);
        return {};
      case "restartOutdatedPod":
        // Its node drains on SIGTERM, and the StatefulSet controller creates it again at the update revision.
        await this.deps.api.delete(objectPath("v1", "pods", namespace, action.pod), { uid: action.uid });
        await this.deps.events.record(cluster, "Normal", "RollingUpdate", summary ?? action.pod);
        return { summary };
      case "reportMembersDropped":
        await this.deps.events.record(cluster, "Warning", "MemberUnreachable", `reassigning the partitions of ${action.members.join(", ")}: unreachable for ${action.afterSeconds}s`);
        return {};
      case "stepRing": {
        let step: StepResult;
        try {
          step = await memory.stepper.decide(answers, action.desired);
        } catch (err) {
          const stepError = (err as Error).message;
          await this.deps.events.record(cluster, "Warning", "RingStepFailed", stepError);
          return { stepError };
        }
        if (step.action) await this.deps.events.record(cluster, "Normal", "RingChanged", step.action);
        return { step, ...(step.action ? { summary: step.action } : {}) };
      }
      default:
        return unknownAction(action);
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

/** What carrying out one action gave: the line for `lastAction` if it changed something, and a ring step's result. */
interface ActionResult {
  summary?: string;
  step?: StepResult;
  stepError?: string;
}

function unknownAction(action: never): never {
  throw new Error(`no executor for ${JSON.stringify(action)}`);
}

/** The outcome of a pass that changed nothing (paused, an invalid spec): only what it observed. */
function idleOutcome(problems: string[], observation: Observation): PassOutcome {
  return { problems, membership: undefined, step: undefined, rollout: { kind: "none" }, statefulSetReplicas: observation.statefulSet?.replicas, replacement: { kind: "none" } };
}

function stripUndefined(value: unknown): unknown {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}
