/**
 * The custom metrics API (custom.metrics.k8s.io/v1beta2) as the operator serves it, in pure functions: which metrics
 * exist, what a request path asks for, and the exact JSON of the answers (an APIResourceList for discovery, a
 * MetricValueList for values, a Status for errors), so the server around them only does I/O.
 *
 * Every metric describes a storage pod of a DynamoCluster, so a HorizontalPodAutoscaler scales on it with a metric of
 * `type: Pods`: the HPA asks for `namespaces/<ns>/pods/*\/<metric>?labelSelector=<the scale's selector>` and averages
 * the values over the pods it gets back.
 */

export const CUSTOM_METRICS_GROUP = "custom.metrics.k8s.io";
export const CUSTOM_METRICS_VERSION = "v1beta2";
export const CUSTOM_METRICS_GROUP_VERSION = `${CUSTOM_METRICS_GROUP}/${CUSTOM_METRICS_VERSION}`;

/** What one scrape of a node's /metrics yields: the counters and gauges the served metrics are computed from. */
export interface NodeSample {
  /** dynamo_requests_total summed over operations and statuses: every client request the node coordinated. */
  requests: number;
  /** dynamo_storage_bytes: the bytes of the node's data directory. */
  storedBytes: number;
}

export interface MetricDefinition {
  name: string;
  description: string;
  /** A counter is served as its per-second rate over the rate window; a gauge as its newest value. */
  kind: "rate" | "gauge";
  from: keyof NodeSample;
}

export const CUSTOM_METRICS: readonly MetricDefinition[] = [
  {
    name: "dynamo_client_requests_per_second",
    description: "client requests per second the pod coordinated (gets, puts, deletes, all statuses), over the last 30 s",
    kind: "rate",
    from: "requests",
  },
  { name: "dynamo_stored_bytes", description: "bytes of the pod's data directory on disk", kind: "gauge", from: "storedBytes" },
];

export function metricNamed(name: string): MetricDefinition | undefined {
  return CUSTOM_METRICS.find((m) => m.name === name);
}

/** A Kubernetes Status, the body of every error answer, so kubectl and the HPA's conditions show its message. */
export interface Status {
  kind: "Status";
  apiVersion: "v1";
  metadata: Record<string, never>;
  status: "Failure";
  message: string;
  reason: string;
  code: number;
}

const REASONS: Record<number, string> = {
  400: "BadRequest",
  401: "Unauthorized",
  403: "Forbidden",
  404: "NotFound",
  405: "MethodNotAllowed",
  500: "InternalError",
  503: "ServiceUnavailable",
};

export function status(code: number, message: string): Status {
  return { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason: REASONS[code] ?? "Unknown", code };
}

/** An error that becomes a Status answer. */
export class MetricsApiError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = "MetricsApiError";
  }
}

/** What a request path asks for. */
export type MetricsRequest =
  | { kind: "groups" }
  | { kind: "group" }
  | { kind: "discovery" }
  | {
      kind: "values";
      namespace: string;
      /** A pod's name, or `*` for every pod the label selector matches. */
      pod: string;
      metric: MetricDefinition;
      labelSelector: string;
      metricLabelSelector: string;
    };

const GROUP_PATH = `/apis/${CUSTOM_METRICS_GROUP}`;
const VERSION_PATH = `${GROUP_PATH}/${CUSTOM_METRICS_VERSION}`;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/**
 * Parses a request URL (path and query) of the API. Throws a MetricsApiError naming the problem: 404 for a path or a
 * metric the API does not have (listing the metrics it has), 400 for a malformed name or selector.
 */
export function parseRequest(url: string): MetricsRequest {
  const parsed = new URL(url, "https://localhost");
  const path = parsed.pathname.replace(/\/+$/, "");
  if (path === "/apis") return { kind: "groups" };
  if (path === GROUP_PATH) return { kind: "group" };
  if (path === VERSION_PATH) return { kind: "discovery" };
  if (!path.startsWith(`${VERSION_PATH}/`)) throw new MetricsApiError(404, `${path} is not a path of ${CUSTOM_METRICS_GROUP_VERSION}`);
  const parts = path.slice(VERSION_PATH.length + 1).split("/").map(decodeURIComponent);
  if (parts.length !== 5 || parts[0] !== "namespaces" || parts[2] !== "pods") {
    throw new MetricsApiError(
      404,
      `the operator serves metrics of pods only, as ${VERSION_PATH}/namespaces/<namespace>/pods/<pod or *>/<metric>; ${path} is not one (metrics: ${metricList()})`,
    );
  }
  const [, namespace, , pod, metricName] = parts as [string, string, string, string, string];
  if (!DNS_LABEL.test(namespace) || namespace.length > 63) throw new MetricsApiError(400, `'${namespace}' is not a namespace name`);
  if (pod !== "*" && (!DNS_SUBDOMAIN.test(pod) || pod.length > 253)) throw new MetricsApiError(400, `'${pod}' is not a pod name`);
  const metric = metricNamed(metricName);
  if (!metric) throw new MetricsApiError(404, `no metric '${metricName}' for pods: the operator serves ${metricList()}`);
  const labelSelector = parsed.searchParams.get("labelSelector") ?? "";
  const metricLabelSelector = parsed.searchParams.get("metricLabelSelector") ?? "";
  if (labelSelector.length > 1024) throw new MetricsApiError(400, "labelSelector is longer than 1024 characters");
  // The nodes' metrics carry no labels of their own, so a metric selector could only ever match nothing: say so.
  if (metricLabelSelector.trim() !== "") {
    throw new MetricsApiError(400, `${metric.name} has no metric labels to select by, so metricLabelSelector '${metricLabelSelector}' cannot match; remove the HPA metric's selector`);
  }
  return { kind: "values", namespace, pod, metric, labelSelector, metricLabelSelector };
}

function metricList(): string {
  return CUSTOM_METRICS.map((m) => m.name).join(", ");
}

/** The group's discovery document (the aggregator usually answers it itself from the APIService). */
export function apiGroup(): unknown {
  return { kind: "APIGroup", apiVersion: "v1", ...group() };
}

function group(): { name: string; versions: unknown[]; preferredVersion: unknown } {
  const version = { groupVersion: CUSTOM_METRICS_GROUP_VERSION, version: CUSTOM_METRICS_VERSION };
  return { name: CUSTOM_METRICS_GROUP, versions: [version], preferredVersion: version };
}

/**
 * The list of groups at `/apis`, in the plain (not aggregated) form. The aggregator asks for `/apis` first, hoping for
 * aggregated discovery; given this, it falls back to the version's own document (`apiResourceList`), which is what it
 * merges into the cluster's discovery and what the HPA controller finds the metrics by.
 */
export function apiGroupList(): unknown {
  return { kind: "APIGroupList", apiVersion: "v1", groups: [group()] };
}

/** The version's discovery document: one resource `pods/<metric>` per metric, as custom metrics servers list them. */
export function apiResourceList(): unknown {
  return {
    kind: "APIResourceList",
    apiVersion: "v1",
    groupVersion: CUSTOM_METRICS_GROUP_VERSION,
    resources: CUSTOM_METRICS.map((m) => ({ name: `pods/${m.name}`, singularName: "", namespaced: true, kind: "MetricValueList", verbs: ["get"] })),
  };
}

/** One pod's value of a metric, as the server computed it. */
export interface PodMetricValue {
  pod: string;
  value: number;
  /** When the value was measured (the newest scrape it comes from). */
  timestampMs: number;
  /** The span a rate was computed over; 0 for a gauge. */
  windowSeconds: number;
}

/**
 * A MetricValueList, the answer to both forms of request (one pod, or every pod a selector matches): the HPA's client
 * decodes a list either way. Values are Kubernetes quantities.
 */
export function metricValueList(namespace: string, metric: MetricDefinition, values: readonly PodMetricValue[]): unknown {
  return {
    kind: "MetricValueList",
    apiVersion: CUSTOM_METRICS_GROUP_VERSION,
    metadata: {},
    items: values.map((v) => ({
      describedObject: { kind: "Pod", namespace, name: v.pod, apiVersion: "/v1" },
      metric: { name: metric.name },
      timestamp: new Date(v.timestampMs).toISOString().replace(/\.\d{3}Z$/, "Z"),
      windowSeconds: v.windowSeconds,
      value: quantity(v.value),
    })),
  };
}

/**
 * A non-negative number as a Kubernetes quantity: whole numbers as they are, others in thousandths (`12.5` is
 * `12500m`), which is the HPA's own precision.
 */
export function quantity(value: number): string {
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`a metric value must be a finite non-negative number, got ${value}`);
  if (Number.isInteger(value) && value <= Number.MAX_SAFE_INTEGER) return String(value);
  const milli = Math.round(value * 1000);
  return milli % 1000 === 0 ? String(milli / 1000) : `${milli}m`;
}
