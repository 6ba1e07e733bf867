/** The custom metrics API (custom.metrics.k8s.io/v1beta2) the operator serves, for HPAs scaling on per-node load. */
export { CUSTOM_METRICS, CUSTOM_METRICS_GROUP_VERSION, apiGroupList, apiResourceList, metricValueList, parseRequest, quantity, status, MetricsApiError, type PodMetricValue } from "./api.js";
export { accessReview, allowedClient, requestHeaderConfig, userFromHeaders } from "./auth.js";
export { sumSamples } from "./exposition.js";
export { CounterRates, counterRate } from "./rates.js";
export { nodeSample, podTargets } from "./scraper.js";
export { CustomMetricsServer, DEFAULT_CUSTOM_METRICS_SERVER, type CustomMetricsServerOptions } from "./server.js";
