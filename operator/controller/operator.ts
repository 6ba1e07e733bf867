/**
 * The running operator: informers on DynamoClusters and on the StatefulSets and pods they own feed cluster keys into
 * the work queue; the queue calls the cluster controller; a periodic resync queues every cluster again, so nothing
 * depends on an event arriving. DynamoBackups and DynamoScheduledBackups have queues and controllers of their own,
 * fed by their informers and by the Jobs the operator runs for them. With leader election only the lease holder runs
 * informers and reconciles.
 */
import { createServer, type Server } from "node:http";
import { hostname } from "node:os";
import type { KubeConfig, KubernetesListObject, KubernetesObject } from "@kubernetes/client-node";
import { AdminClient, RingDriver, keptAliveAgent } from "../../driver/index.js";
import { CustomMetricsServer } from "../custom-metrics/index.js";
import { API_VERSION, BACKUP_PLURAL, PLURAL, SCHEDULED_BACKUP_PLURAL, defaultStorageImage, largestN, type DynamoCluster } from "../api/index.js";
import { KubeApi, objectPath } from "../kube/api-client.js";
import { BACKUP_LABEL, LABEL_INSTANCE, LABEL_MANAGED_BY, MANAGED_BY, RESTORE_LABEL, type OperatorPods } from "../resources/index.js";
import { SCHEDULE_LABEL } from "../reconcile/backup.js";
import { BackupController } from "./backup-controller.js";
import { ScheduledBackupController } from "./scheduled-backup-controller.js";
import { ClusterController } from "./cluster-controller.js";
import { EventRecorder } from "./events.js";
import { RestartingInformer } from "./informer.js";
import { DEFAULT_LEADER_ELECTION, LeaderElector } from "./leader-election.js";
import { OperatorMetrics } from "./metrics.js";
import { DEFAULT_WORK_QUEUE, WorkQueue } from "./work-queue.js";

export const DEFAULT_OPERATOR = {
  resyncMs: 60_000,
  adminTimeoutMs: 3_000,
};

export interface OperatorOptions {
  kubeConfig: KubeConfig;
  /** Watch one namespace; all when undefined. */
  namespace: string | undefined;
  leaderElect: boolean;
  /** Namespace of the leader lease. */
  leaseNamespace: string;
  identity?: string;
  metricsPort: number | undefined;
  metricsHost?: string;
  /** The storage image of clusters that name none; ringkv/dynamo at this build's version by default. */
  defaultImage?: string;
  log: (message: string) => void;
  /** Where the operator's pods run (its namespace and pod labels), for the clusters' NetworkPolicies. */
  operatorPods?: OperatorPods;
  /** The cluster DNS domain, for the names in certificates; cluster.local when unset. */
  clusterDomain?: string;
  /**
   * Serve the custom metrics API (custom.metrics.k8s.io) on this port with this serving certificate, for HPAs that
   * scale DynamoClusters on requests or bytes per node. Every replica serves it, leader or not.
   */
  customMetrics?: { port: number; host?: string; tls: () => { cert: string; key: string } };
}

export class Operator {
  readonly metrics = new OperatorMetrics();
  private readonly api: KubeApi;
  private readonly queue: WorkQueue;
  private readonly controller: ClusterController;
  private readonly backupQueue: WorkQueue;
  private readonly scheduleQueue: WorkQueue;
  private readonly informers: RestartingInformer<KubernetesObject>[] = [];
  private elector: LeaderElector | undefined;
  private server: Server | undefined;
  private customMetrics: CustomMetricsServer | undefined;
  /** The port the custom metrics API listens on, once started (the one asked for, or the one chosen for port 0). */
  customMetricsPort: number | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  /** Every cluster's admin calls (always mutual TLS) share it, so a reconcile does not open a connection per call. */
  private readonly adminAgent = keptAliveAgent(true);
  private exit!: (code: number) => void;
  readonly done: Promise<number>;

  constructor(private readonly options: OperatorOptions) {
    this.done = new Promise((resolve) => (this.exit = resolve));
    this.api = new KubeApi(options.kubeConfig);
    const log = options.log;
    const defaultImage = options.defaultImage ?? defaultStorageImage();
    this.controller = new ClusterController({
      api: this.api,
      events: new EventRecorder(this.api, log),
      metrics: this.metrics,
      adminFor: (token, tls) => new AdminClient(token, DEFAULT_OPERATOR.adminTimeoutMs, tls, this.adminAgent),
      defaultImage,
      stepperFor: (cluster: DynamoCluster, admin) =>
        new RingDriver({
          admin,
          partitions: cluster.spec.partitions,
          targetN: largestN(cluster.spec),
          term: () => this.elector?.term,
          log: (m) => log(`${cluster.metadata.namespace}/${cluster.metadata.name}: ${m}`),
        }),
      log,
      operatorPods: options.operatorPods,
      clusterDomain: options.clusterDomain,
    });
    this.queue = new WorkQueue((key) => this.controller.reconcile(key), DEFAULT_WORK_QUEUE, {
      onDropped: () => this.metrics.queueDropped.inc(),
      onResult: (key, outcome, durationMs, error) => {
        this.metrics.reconciles.inc({ result: outcome });
        this.metrics.reconcileSeconds.observe(durationMs / 1000);
        this.metrics.queueDepth.set(this.queue.depth);
        if (outcome === "error") {
          this.metrics.reconcileErrors.inc();
          log(`reconcile ${key} failed: ${(error as Error)?.message ?? String(error)}`);
        }
      },
    });
    const events = new EventRecorder(this.api, log);
    const backups = new BackupController({ api: this.api, events, log, defaultImage });
    const schedules = new ScheduledBackupController({ api: this.api, events, log });
    const sideQueue = (kind: string, handler: (key: string) => Promise<{ requeueAfterMs?: number } | undefined>) =>
      new WorkQueue(handler, DEFAULT_WORK_QUEUE, {
        onDropped: () => this.metrics.queueDropped.inc(),
        onResult: (key, outcome, _durationMs, error) => {
          if (outcome === "error") log(`reconcile ${kind} ${key} failed: ${(error as Error)?.message ?? String(error)}`);
        },
      });
    this.backupQueue = sideQueue("DynamoBackup", (key) => backups.reconcile(key));
    this.scheduleQueue = sideQueue("DynamoScheduledBackup", (key) => schedules.reconcile(key));
  }

  async start(): Promise<void> {
    if (this.options.metricsPort !== undefined) await this.serveMetrics(this.options.metricsPort);
    if (this.options.customMetrics) {
      this.customMetrics = new CustomMetricsServer(this.api, { ...this.options.customMetrics, namespace: this.options.namespace, log: this.options.log });
      this.customMetricsPort = await this.customMetrics.start();
    }
    if (!this.options.leaderElect) {
      this.metrics.leader.set(1);
      await this.startControllers();
      return;
    }
    this.elector = new LeaderElector(
      this.api,
      { ...DEFAULT_LEADER_ELECTION, namespace: this.options.leaseNamespace, identity: this.options.identity ?? `${hostname()}-${process.pid}` },
      {
        onStartedLeading: () => {
          this.metrics.leader.set(1);
          void this.startControllers();
        },
        // A replica that lost the lease may have stale decisions in flight; exiting and restarting is the safe reset.
        onStoppedLeading: () => {
          this.metrics.leader.set(0);
          void this.stop().then(() => this.exit(1));
        },
        log: this.options.log,
      },
    );
    this.elector.start();
  }

  async stop(): Promise<void> {
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    this.queue.stop();
    this.backupQueue.stop();
    this.scheduleQueue.stop();
    await Promise.all(this.informers.map((i) => i.stop()));
    await this.elector?.stop();
    await this.customMetrics?.stop();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.adminAgent.destroy();
  }

  /** Ends `done` with `code` after stopping (for signals). */
  async shutdown(code: number): Promise<void> {
    await this.stop();
    this.exit(code);
  }

  private async startControllers(): Promise<void> {
    const ns = this.options.namespace;
    const log = this.options.log;
    const enqueueCluster = (o: KubernetesObject) => {
      if (o.metadata?.name && o.metadata.namespace) this.queue.add(`${o.metadata.namespace}/${o.metadata.name}`);
    };
    const enqueueOwner = (o: KubernetesObject) => {
      const instance = o.metadata?.labels?.[LABEL_INSTANCE];
      if (instance && o.metadata?.namespace) this.queue.add(`${o.metadata.namespace}/${instance}`);
    };
    const owned = `${LABEL_MANAGED_BY}=${MANAGED_BY}`;
    const watch = (resource: string, path: string, onObject: (o: KubernetesObject) => void, labelSelector?: string) => {
      const list = () => this.api.get<KubernetesListObject<KubernetesObject>>(labelSelector ? `${path}?labelSelector=${encodeURIComponent(labelSelector)}` : path);
      const informer = new RestartingInformer(this.options.kubeConfig, path, list, {
        onObject,
        onRestart: (err, delayMs) => {
          this.metrics.informerRestarts.inc({ resource });
          log(`${resource} informer failed (${(err as Error)?.message ?? String(err)}); restarting in ${delayMs} ms`);
        },
      }, labelSelector);
      this.informers.push(informer);
      return informer;
    };
    const clusters = watch("dynamoclusters", objectPath(API_VERSION, PLURAL, ns), enqueueCluster);
    watch("statefulsets", objectPath("apps/v1", "statefulsets", ns), enqueueOwner, owned);
    watch("pods", objectPath("v1", "pods", ns), enqueueOwner, owned);
    const key = (o: KubernetesObject, name: string | undefined) => (name && o.metadata?.namespace ? `${o.metadata.namespace}/${name}` : undefined);
    const enqueueBackup = (o: KubernetesObject) => {
      const backup = key(o, o.metadata?.name);
      if (backup) this.backupQueue.add(backup);
      // A backup that finished changes its schedule's status and what its retention keeps.
      const schedule = key(o, o.metadata?.labels?.[SCHEDULE_LABEL]);
      if (schedule) this.scheduleQueue.add(schedule);
    };
    const enqueueSchedule = (o: KubernetesObject) => {
      const schedule = key(o, o.metadata?.name);
      if (schedule) this.scheduleQueue.add(schedule);
    };
    // A backup Job wakes its DynamoBackup; a restore Job wakes the cluster it restores into.
    const enqueueJobOwner = (o: KubernetesObject) => {
      const backup = key(o, o.metadata?.labels?.[BACKUP_LABEL]);
      if (backup) this.backupQueue.add(backup);
      const restore = key(o, o.metadata?.labels?.[RESTORE_LABEL]);
      if (restore) this.queue.add(restore);
    };
    const backups = watch("dynamobackups", objectPath(API_VERSION, BACKUP_PLURAL, ns), enqueueBackup);
    const schedules = watch("dynamoscheduledbackups", objectPath(API_VERSION, SCHEDULED_BACKUP_PLURAL, ns), enqueueSchedule);
    watch("jobs", objectPath("batch/v1", "jobs", ns), enqueueJobOwner, owned);
    await Promise.all(this.informers.map((i) => i.start()));
    this.resyncTimer = setInterval(() => {
      for (const c of clusters.cache.list()) enqueueCluster(c);
      for (const b of backups.cache.list()) enqueueBackup(b);
      for (const s of schedules.cache.list()) enqueueSchedule(s);
    }, DEFAULT_OPERATOR.resyncMs);
    this.resyncTimer.unref();
    log(`operator started${ns ? ` in namespace ${ns}` : " in all namespaces"}`);
  }

  private serveMetrics(port: number): Promise<void> {
    this.server = createServer((req, res) => {
      if (req.url === "/metrics") {
        void this.metrics.registry.metrics().then((text) => {
          res.writeHead(200, { "Content-Type": this.metrics.registry.contentType });
          res.end(text);
        });
      } else if (req.url === "/healthz") {
        res.writeHead(200, { "Content-Type": "application/json" });
        res.end(JSON.stringify({ status: "ok", leader: this.options.leaderElect ? (this.elector?.isLeader ?? false) : true }));
      } else {
        res.writeHead(404).end();
      }
    });
    const server = this.server;
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, this.options.metricsHost ?? "127.0.0.1", () => resolve());
    });
  }
}
