/**
 * What a ClusterController pass talks to, scripted in memory for its unit tests: the API server's objects (the
 * DynamoCluster, the StatefulSet with the status its controller would give it, the pods), and a ring stepper whose
 * observations and step results the test states. It records what the pass did: applies, deletes, Events, and every
 * observe and decide call, so a test asserts the pass's effects without a control plane.
 */
import type { KubernetesObject, V1Pod, V1StatefulSet } from "@kubernetes/client-node";
import type { AdminClient, MemberAddress, NodeAnswer, RingObservation, StepResult } from "../../../../driver/index.js";
import { newestRing } from "../../../../node/ring/index.js";
import type { NodeInfo } from "../../../../node/protocol/index.js";
import type { Ring } from "../../../../node/ring/types.js";
import { API_VERSION, KIND, PLURAL, type DynamoClusterSpecInput, type DynamoClusterStatus } from "../../../../operator/api/index.js";
import { ClusterController, EventRecorder, OperatorMetrics } from "../../../../operator/controller/index.js";
import { KubeApiError, objectPath, pathOf, type ObjectApi } from "../../../../operator/kube/api-client.js";
import type { RingStepper } from "../../../../operator/reconcile/index.js";
import { nodeInfo } from "../../driver/scripted-nodes.js";

export const NS = "ns";
export const NAME = "kv";
export const NOW = 1_700_000_000_000;

/** An in-memory API server: objects by path; a list of pods by label selector; apply, delete and create recorded. */
export class ScriptedApi {
  readonly objects = new Map<string, KubernetesObject>();
  readonly applied: string[] = [];
  readonly deleted: string[] = [];
  readonly events: { type: string; reason: string; message: string }[] = [];

  put(object: KubernetesObject): void {
    this.objects.set(pathOf(object), structuredClone(object));
  }

  async find<T>(path: string): Promise<T | undefined> {
    const object = this.objects.get(path);
    return object === undefined ? undefined : (structuredClone(object) as T);
  }

  async get<T>(path: string): Promise<T> {
    const [base, query] = path.split("?");
    if (query?.startsWith("labelSelector=")) {
      const items = [...this.objects.entries()].filter(([p]) => p.startsWith(`${base}/`)).map(([, o]) => structuredClone(o));
      return { items } as T;
    }
    const found = await this.find<T>(path);
    if (found === undefined) throw new KubeApiError(404, "NotFound", `${path} not found`);
    return found;
  }

  async apply<T extends KubernetesObject>(object: T, _fieldManager: string, subresource?: string): Promise<T> {
    const path = pathOf(object);
    const existing = this.objects.get(path) as (KubernetesObject & { status?: unknown }) | undefined;
    if (subresource === "status") {
      if (!existing) throw new KubeApiError(404, "NotFound", `${path} not found`);
      this.objects.set(path, { ...existing, status: structuredClone((object as { status?: unknown }).status) } as KubernetesObject);
    } else {
      // What a controller wrote to the status stays: an apply of the spec does not touch it.
      this.objects.set(path, { ...structuredClone(object), ...(existing?.status !== undefined ? { status: existing.status } : {}) } as KubernetesObject);
      this.applied.push(`${object.kind}/${object.metadata?.name}`);
    }
    return object;
  }

  async delete(path: string): Promise<void> {
    this.deleted.push(path.replace(/^.*\/namespaces\/[^/]+\//, ""));
    this.objects.delete(path);
  }

  async create<T>(path: string, body: unknown): Promise<T> {
    if (!path.endsWith("/events")) throw new Error(`the scripted API server creates only Events, not ${path}`);
    const event = body as { type: string; reason: string; message: string };
    this.events.push({ type: event.type, reason: event.reason, message: event.message });
    return body as T;
  }

  /** The cluster as the API server holds it now (with the status the last pass wrote). */
  cluster(): { status?: DynamoClusterStatus } {
    return this.objects.get(objectPath(API_VERSION, PLURAL, NS, NAME)) as { status?: DynamoClusterStatus };
  }

  condition(type: string): { status: string; reason: string; message: string } | undefined {
    return this.cluster().status?.conditions?.find((c) => c.type === type);
  }
}

/** What each node answers, by pod name: its account of itself and its ring, or an error. Unlisted nodes are down. */
export type ScriptedAnswers = Record<string, { info: NodeInfo; ring: Ring | undefined } | { error: string }>;

/** A ring stepper whose observations come from `answers` and whose steps answer `result` (settled by default). */
export class ScriptedStepper implements RingStepper {
  readonly observed: MemberAddress[][] = [];
  readonly decided: { observation: RingObservation; desired: string[] }[] = [];
  readonly observations: RingObservation[] = [];
  answers: ScriptedAnswers = {};
  result: (observation: RingObservation, desired: string[]) => StepResult | Promise<StepResult> = (observation) => ({
    ring: observation.newest,
    done: true,
    action: undefined,
    retryAfterMs: 5000,
    removable: [],
    transfers: { pending: 0, active: 0, done: 0 },
  });

  async observe(nodes: readonly MemberAddress[]): Promise<RingObservation> {
    this.observed.push([...nodes]);
    const answered: NodeAnswer[] = nodes.map((node) => {
      const answer = this.answers[node.id];
      if (!answer) return { ...node, reachable: false, error: "connection refused" };
      return "error" in answer ? { ...node, reachable: false, error: answer.error } : { ...node, reachable: true, info: answer.info, ring: answer.ring };
    });
    const rings = answered.map((a) => (a.reachable ? a.ring : undefined));
    const observation = { nodes: answered, newest: newestRing(rings), epochFloor: Math.max(0, ...rings.map((r) => r?.epoch ?? 0)), atMs: NOW };
    this.observations.push(observation);
    return observation;
  }

  async decide(observation: RingObservation, desired: string[]): Promise<StepResult> {
    this.decided.push({ observation, desired });
    return this.result(observation, desired);
  }
}

export function clusterObject(spec: DynamoClusterSpecInput = { replicas: 3 }): KubernetesObject {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name: NAME, namespace: NS, uid: "0b0c0d0e-0000-4000-8000-000000000001", generation: 1 },
    spec,
  } as KubernetesObject;
}

/** A storage pod as the API server reports it: running, ready, at `revision`, on IP 10.0.0.(10+ordinal). */
export function podObject(ordinal: number, options: { revision?: string; ready?: boolean; running?: boolean; annotations?: Record<string, string> } = {}): V1Pod {
  const running = options.running ?? true;
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: `${NAME}-${ordinal}`,
      namespace: NS,
      uid: `uid-${ordinal}`,
      creationTimestamp: new Date(NOW - 600_000),
      labels: { "controller-revision-hash": options.revision ?? "r1" },
      ...(options.annotations ? { annotations: options.annotations } : {}),
    },
    status: {
      phase: running ? "Running" : "Pending",
      ...(running ? { podIP: `10.0.0.${10 + ordinal}` } : {}),
      containerStatuses: running ? [{ name: "dynamo", image: "dynamo", imageID: "", ready: true, restartCount: 0, state: { running: {} } }] : [],
      conditions: [{ type: "Ready", status: options.ready === false ? "False" : "True" }],
    },
  };
}

/** The StatefulSet as its controller reports it: `replicas` pods, every one at the update revision unless said otherwise. */
export function statefulSetObject(replicas: number, revisions: { current?: string; update?: string } = {}): V1StatefulSet {
  return {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: { name: NAME, namespace: NS, generation: 1 },
    spec: { replicas, selector: {}, serviceName: NAME, template: {} },
    status: { replicas, readyReplicas: replicas, updatedReplicas: replicas, observedGeneration: 1, currentRevision: revisions.current ?? "r1", updateRevision: revisions.update ?? "r1" },
  };
}

/** Answers for every listed pod: a node that holds `ring` and runs the incarnation the ring records for it. */
export function answersFor(ids: string[], ring: Ring | undefined): ScriptedAnswers {
  return Object.fromEntries(
    ids.map((id) => {
      const node = { id, incarnation: ring?.members[id]?.incarnation ?? `inc-${id}`, ring };
      return [id, { info: nodeInfo(node, `https://${id}:8081`), ring }];
    }),
  );
}

/** A controller over the scripted API server, with the given stepper, at a fixed time. */
export function controllerFor(api: ScriptedApi, stepper: RingStepper): ClusterController {
  const kube: ObjectApi = api;
  return new ClusterController({
    api: kube,
    events: new EventRecorder(kube, () => undefined, () => NOW),
    metrics: new OperatorMetrics(),
    adminFor: () => ({}) as AdminClient,
    defaultImage: "ringkv/dynamo:test",
    stepperFor: () => stepper,
    log: () => undefined,
    now: () => NOW,
  });
}
