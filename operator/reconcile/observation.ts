/**
 * What one reconcile pass observed, as plain values: the cluster, its StatefulSet, its pods (with what each node's
 * admin API said about itself), and the newest ring any node holds. The decision functions take only these, so a
 * test can state any situation the controller might see without a control plane.
 */
import type { V1Pod, V1StatefulSet } from "@kubernetes/client-node";
import type { Ring } from "../../node/ring/index.js";
import type { NodeInfo } from "../../node/protocol/index.js";
import { REPLACE_ANNOTATION, type DynamoCluster } from "../api/index.js";

export interface PodObservation {
  name: string;
  ordinal: number;
  uid: string;
  phase: string;
  ready: boolean;
  /** The pod has an IP and its container is running: its node process can be asked who it is. */
  running: boolean;
  podIp: string | undefined;
  /** The Kubernetes Node the pod is scheduled on, and that Node's zone label when the operator may read Nodes. */
  nodeName?: string;
  zone?: string;
  deleting: boolean;
  replaceRequested: boolean;
  createdAtMs: number;
  /** Set while a container waits for an image the kubelet cannot pull: which image, and the kubelet's reason. */
  imagePull?: ImagePullFailure;
  /** The StatefulSet revision the pod was created from (its `controller-revision-hash` label). */
  revision?: string;
}

export interface ImagePullFailure {
  image: string;
  reason: string;
  message: string;
}

/** The kubelet's waiting reasons for an image it could not get (pull errors, back-off, a name it cannot parse). */
export const IMAGE_PULL_REASONS = ["ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull", "RegistryUnavailable"];

/** What a node's admin API answered (including the certificates it uses, and its whole account of itself when the pass kept
 * it), or that it did not answer. */
export type NodeProbe = { reachable: true; incarnation: string; epoch: number; tls?: NodeInfo["tls"]; info?: NodeInfo } | { reachable: false; error: string };

export interface StatefulSetObservation {
  replicas: number;
  readyReplicas: number;
  updatedReplicas: number;
  currentRevision: string | undefined;
  updateRevision: string | undefined;
  generation: number;
  observedGeneration: number;
}

/**
 * The ring as far as the operator can tell. `known: false` means no node answered, which is different from a cluster
 * that has no ring yet: a decision that needs to know who holds data must wait in the first case. `ring` is then the
 * last ring a node answered with in an earlier pass, if any, so that the status still describes the cluster.
 */
export interface RingView {
  known: boolean;
  ring: Ring | undefined;
}

export interface Observation {
  cluster: DynamoCluster;
  statefulSet: StatefulSetObservation | undefined;
  pods: PodObservation[];
  probes: Record<string, NodeProbe>;
  ring: RingView;
  /** When each ring member was first seen unreachable in the current streak (kept by the controller). */
  unreachableSinceMs: Record<string, number>;
  nowMs: number;
}

/** The label the StatefulSet controller puts on each pod: the revision of the template it was created from. */
export const REVISION_LABEL = "controller-revision-hash";

/** `x-12` → 12 for cluster `x`; undefined for names that are not the StatefulSet's pods. */
export function ordinalOf(cluster: string, pod: string): number | undefined {
  if (!pod.startsWith(`${cluster}-`)) return undefined;
  const suffix = pod.slice(cluster.length + 1);
  return /^(0|[1-9][0-9]*)$/.test(suffix) ? Number(suffix) : undefined;
}

export function podName(cluster: string, ordinal: number): string {
  return `${cluster}-${ordinal}`;
}

export function observePod(cluster: string, pod: V1Pod): PodObservation | undefined {
  const name = pod.metadata?.name ?? "";
  const ordinal = ordinalOf(cluster, name);
  if (ordinal === undefined) return undefined;
  const status = pod.status;
  const containerRunning = (status?.containerStatuses ?? []).some((c) => c.state?.running !== undefined);
  const created = pod.metadata?.creationTimestamp;
  const pulling = (status?.containerStatuses ?? []).find((c) => IMAGE_PULL_REASONS.includes(c.state?.waiting?.reason ?? ""));
  const imagePull = pulling
    ? { image: pulling.image, reason: pulling.state?.waiting?.reason ?? "", message: pulling.state?.waiting?.message ?? "" }
    : undefined;
  return {
    name,
    ordinal,
    uid: pod.metadata?.uid ?? "",
    phase: status?.phase ?? "Pending",
    ready: (status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True"),
    running: status?.phase === "Running" && containerRunning && !!status?.podIP,
    podIp: status?.podIP,
    ...(pod.spec?.nodeName ? { nodeName: pod.spec.nodeName } : {}),
    deleting: !!pod.metadata?.deletionTimestamp,
    replaceRequested: pod.metadata?.annotations?.[REPLACE_ANNOTATION] === "true",
    createdAtMs: created ? new Date(created).getTime() : 0,
    ...(pod.metadata?.labels?.[REVISION_LABEL] !== undefined && { revision: pod.metadata.labels[REVISION_LABEL] }),
    ...(imagePull ? { imagePull } : {}),
  };
}

export function observeStatefulSet(sts: V1StatefulSet | undefined): StatefulSetObservation | undefined {
  if (!sts) return undefined;
  return {
    replicas: sts.spec?.replicas ?? 0,
    readyReplicas: sts.status?.readyReplicas ?? 0,
    updatedReplicas: sts.status?.updatedReplicas ?? 0,
    currentRevision: sts.status?.currentRevision,
    updateRevision: sts.status?.updateRevision,
    generation: sts.metadata?.generation ?? 0,
    observedGeneration: sts.status?.observedGeneration ?? 0,
  };
}
