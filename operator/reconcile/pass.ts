/**
 * The pure shape of one reconcile pass: the objects to apply and when to look again. The controller does the I/O
 * around these.
 */
import type { KubernetesObject } from "@kubernetes/client-node";
import type { DynamoCluster } from "../api/index.js";
import {
  buildClientService,
  buildConfigMap,
  buildNetworkPolicy,
  buildPeerService,
  buildPodDisruptionBudget,
  buildSecret,
  buildStatefulSet,
  type OperatorPods,
} from "../resources/index.js";
import type { Verdict } from "./status.js";
import type { PassOutcome } from "./status.js";

export const DEFAULT_REQUEUE = {
  /** A stable cluster is still looked at now and then: a node can stop answering without any object changing. */
  stableMs: 30_000,
  /** While waiting for pods or holding for an unreachable member. */
  waitingMs: 2_000,
  stepMinMs: 250,
  stepMaxMs: 10_000,
};

export interface DesiredInputs {
  token: string;
  statefulSetReplicas: number;
  /** The certificate Secrets and ConfigMap (or cert-manager Certificates), the CA Secret first. */
  certificateObjects: KubernetesObject[];
  /** Where the operator's pods run, for the NetworkPolicy; undefined when it runs outside the cluster. */
  operatorPods: OperatorPods | undefined;
  /** The image when the cluster names none: the operator's default (operator/api/image.ts). */
  defaultImage: string;
}

/**
 * Every object the cluster owns, in the order they are applied: the CA's Secret before any certificate it signed is
 * handed out, and what pods mount before the pods. The NetworkPolicy only when the spec keeps it on.
 */
export function desiredObjects(cluster: DynamoCluster, inputs: DesiredInputs): KubernetesObject[] {
  return [
    buildSecret(cluster, inputs.token),
    ...inputs.certificateObjects,
    buildConfigMap(cluster),
    buildPeerService(cluster),
    buildClientService(cluster),
    buildPodDisruptionBudget(cluster),
    ...(cluster.spec.network.policy.enabled ? [buildNetworkPolicy(cluster, inputs.operatorPods)] : []),
    buildStatefulSet(cluster, { replicas: inputs.statefulSetReplicas, defaultImage: inputs.defaultImage }),
  ];
}

export function requeueAfterMs(outcome: PassOutcome, verdict: Pick<Verdict, "phase">): number {
  // A certificate falling due (or a CA rotation's next step) brings the next pass forward, never later.
  const certificates = outcome.certificates?.recheckAfterMs;
  const byCertificates = certificates === undefined ? Infinity : Math.max(DEFAULT_REQUEUE.stepMinMs, certificates);
  return Math.min(byCertificates, ringRequeueMs(outcome, verdict));
}

function ringRequeueMs(outcome: PassOutcome, verdict: Pick<Verdict, "phase">): number {
  if (verdict.phase === "Stable" || verdict.phase === "Paused") return DEFAULT_REQUEUE.stableMs;
  if (outcome.step && !outcome.step.done) {
    return Math.min(DEFAULT_REQUEUE.stepMaxMs, Math.max(DEFAULT_REQUEUE.stepMinMs, outcome.step.retryAfterMs));
  }
  return DEFAULT_REQUEUE.waitingMs;
}
