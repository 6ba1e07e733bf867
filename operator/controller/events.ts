/**
 * Kubernetes Events on the DynamoCluster (or the DynamoBackup, DynamoScheduledBackup) for every ring change, scale step and replacement, so `kubectl describe dyn`
 * tells the story. Recording is best effort: a failed Event never fails a reconcile. Repeats of the same reason and
 * message within a short window are suppressed, so a pass that retries does not flood the API server.
 */
import { API_VERSION, KIND } from "../api/index.js";
import { objectPath, type ObjectApi } from "../kube/api-client.js";

export const DEFAULT_EVENTS = {
  repeatWindowMs: 60_000,
  rememberedMax: 1_000,
  component: "dynamo-operator",
};

export type EventType = "Normal" | "Warning";

/** The object an Event is about: one of the operator's resources (a DynamoCluster when its kind is not given). */
export interface InvolvedObject {
  kind?: string;
  metadata: { name: string; namespace?: string; uid?: string };
}

export class EventRecorder {
  private readonly recent = new Map<string, number>();

  constructor(
    private readonly api: ObjectApi,
    private readonly log: (message: string) => void,
    private readonly now: () => number = Date.now,
    private readonly options = DEFAULT_EVENTS,
  ) {}

  async record(cluster: InvolvedObject, type: EventType, reason: string, message: string): Promise<void> {
    const namespace = cluster.metadata.namespace ?? "default";
    const key = `${cluster.kind ?? KIND}/${namespace}/${cluster.metadata.name}/${reason}/${message}`;
    const now = this.now();
    const last = this.recent.get(key);
    if (last !== undefined && now - last < this.options.repeatWindowMs) return;
    this.recent.set(key, now);
    if (this.recent.size > this.options.rememberedMax) {
      const oldest = this.recent.keys().next().value;
      if (oldest !== undefined) this.recent.delete(oldest);
    }
    this.log(`event ${type} ${reason} ${namespace}/${cluster.metadata.name}: ${message}`);
    const time = new Date(now).toISOString();
    try {
      await this.api.create(objectPath("v1", "events", namespace), {
        apiVersion: "v1",
        kind: "Event",
        metadata: { generateName: `${cluster.metadata.name}.`, namespace },
        involvedObject: { apiVersion: API_VERSION, kind: cluster.kind ?? KIND, name: cluster.metadata.name, namespace, uid: cluster.metadata.uid },
        type,
        reason,
        message: message.slice(0, 1024),
        source: { component: this.options.component },
        reportingComponent: this.options.component,
        reportingInstance: this.options.component,
        firstTimestamp: time,
        lastTimestamp: time,
        count: 1,
      });
    } catch (err) {
      this.log(`recording event ${reason} failed: ${(err as Error).message}`);
    }
  }
}
