/**
 * The operator's Prometheus metrics: reconciles by result, their duration, queue depth, leadership, informer
 * restarts, and the state of every cluster's ring as the last pass saw it.
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { PHASES, type DynamoClusterStatus } from "../api/index.js";

export class OperatorMetrics {
  readonly registry = new Registry();
  readonly reconciles = new Counter({ name: "dynamo_operator_reconciles_total", help: "Reconcile passes by result.", labelNames: ["result"], registers: [this.registry] });
  readonly reconcileErrors = new Counter({ name: "dynamo_operator_reconcile_errors_total", help: "Reconcile passes that failed.", registers: [this.registry] });
  readonly reconcileSeconds = new Histogram({
    name: "dynamo_operator_reconcile_duration_seconds",
    help: "Duration of reconcile passes.",
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({ name: "dynamo_operator_queue_depth", help: "Keys waiting in the work queue.", registers: [this.registry] });
  readonly queueDropped = new Counter({ name: "dynamo_operator_queue_dropped_total", help: "Keys dropped because the queue was full.", registers: [this.registry] });
  readonly leader = new Gauge({ name: "dynamo_operator_leader", help: "1 while this replica holds the leader lease.", registers: [this.registry] });
  readonly informerRestarts = new Counter({ name: "dynamo_operator_informer_restarts_total", help: "Informer restarts after errors.", labelNames: ["resource"], registers: [this.registry] });
  readonly ringEpoch = new Gauge({ name: "dynamo_cluster_ring_epoch", help: "Epoch of the cluster's ring.", labelNames: ["namespace", "cluster"], registers: [this.registry] });
  readonly members = new Gauge({ name: "dynamo_cluster_ring_members", help: "Ring members.", labelNames: ["namespace", "cluster"], registers: [this.registry] });
  readonly readyReplicas = new Gauge({ name: "dynamo_cluster_ready_replicas", help: "Ready storage pods.", labelNames: ["namespace", "cluster"], registers: [this.registry] });
  readonly transfersPending = new Gauge({ name: "dynamo_cluster_transfers_pending", help: "Partition transfers pending.", labelNames: ["namespace", "cluster"], registers: [this.registry] });
  readonly transfersActive = new Gauge({ name: "dynamo_cluster_transfers_active", help: "Partition transfers streaming now.", labelNames: ["namespace", "cluster"], registers: [this.registry] });
  readonly rebalancePartitions = new Gauge({ name: "dynamo_cluster_rebalance_partitions", help: "Partition copies the ring change in flight (or the last one) moves.", labelNames: ["namespace", "cluster"], registers: [this.registry] });
  readonly rebalancePartitionsMoved = new Gauge({ name: "dynamo_cluster_rebalance_partitions_moved", help: "Partition copies the ring change has moved so far.", labelNames: ["namespace", "cluster"], registers: [this.registry] });
  readonly rebalanceBytesMoved = new Gauge({ name: "dynamo_cluster_rebalance_bytes_moved", help: "Bytes the ring change has streamed so far.", labelNames: ["namespace", "cluster"], registers: [this.registry] });
  readonly rebalanceEta = new Gauge({ name: "dynamo_cluster_rebalance_eta_seconds", help: "Estimated seconds until the ring change in flight finishes (0 when none runs).", labelNames: ["namespace", "cluster"], registers: [this.registry] });
  readonly phase = new Gauge({ name: "dynamo_cluster_phase", help: "1 for the cluster's current phase, 0 for the others.", labelNames: ["namespace", "cluster", "phase"], registers: [this.registry] });

  observeCluster(namespace: string, cluster: string, status: DynamoClusterStatus): void {
    const labels = { namespace, cluster };
    if (status.ringEpoch !== undefined) this.ringEpoch.set(labels, status.ringEpoch);
    this.members.set(labels, (status.members ?? []).filter((m) => m.state !== "absent").length);
    this.readyReplicas.set(labels, status.readyReplicas ?? 0);
    this.transfersPending.set(labels, status.transfers?.pending ?? 0);
    this.transfersActive.set(labels, status.transfers?.active ?? 0);
    for (const phase of PHASES) this.phase.set({ ...labels, phase }, status.phase === phase ? 1 : 0);
    const r = status.rebalance;
    this.rebalancePartitions.set(labels, r?.partitionsTotal ?? 0);
    this.rebalancePartitionsMoved.set(labels, r?.partitionsMoved ?? 0);
    this.rebalanceBytesMoved.set(labels, r?.bytesMoved ?? 0);
    this.rebalanceEta.set(labels, r && r.finishTime === undefined ? (r.etaSeconds ?? 0) : 0);
  }

  forgetCluster(namespace: string, cluster: string): void {
    const labels = { namespace, cluster };
    const gauges = [this.ringEpoch, this.members, this.readyReplicas, this.transfersPending, this.transfersActive, this.rebalancePartitions, this.rebalancePartitionsMoved, this.rebalanceBytesMoved, this.rebalanceEta];
    for (const gauge of gauges) gauge.remove(labels);
    for (const phase of PHASES) this.phase.remove({ ...labels, phase });
  }
}
