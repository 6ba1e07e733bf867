/**
 * The pure shape of one reconcile pass: the objects to apply and when to look again. The controller does the I/O
 * around these.
 */
import type { KubernetesObject } from "@kubernetes/client-node";
import type { DynamoCluster } from "../api/index.js";
import {
  buildClientService,
  buildConfigMap,
  buildPeerService,
  buildPodDisruptionBudget,
  buildSecret,
  buildStatefulSet,
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

/** Every object the cluster owns, in the order they are applied: what pods mount exists before the pods. */
export function desiredObjects(cluster: DynamoCluster, token: string, statefulSetReplicas: number): KubernetesObject[] {
  return [
    buildSecret(cluster, token),
    buildConfigMap(cluster),
    buildPeerService(cluster),
    buildClientService(cluster),
    buildPodDisruptionBudget(cluster),
    buildStatefulSet(cluster, { replicas: statefulSetReplicas }),
  ];
}

export function requeueAfterMs(outcome: PassOutcome, verdict: Pick<Verdict, "phase">): number {
  if (verdict.phase === "Stable" || verdict.phase === "Paused") return DEFAULT_REQUEUE.stableMs;
  if (outcome.step && !outcome.step.done) {
    return Math.min(DEFAULT_REQUEUE.stepMaxMs, Math.max(DEFAULT_REQUEUE.stepMinMs, outcome.step.retryAfterMs));
  }
  return DEFAULT_REQUEUE.waitingMs;
}
