/**
 * The resource metrics API (metrics.k8s.io), which HorizontalPodAutoscalers scale on: metrics-server (built by the
 * toolchain script) as a Deployment in kube-system, registered with the API server's aggregation layer. It scrapes
 * each kubelet's /metrics/resource over TLS, checking the kubelet's certificate against the cluster CA, and serves with
 * a certificate from the same CA, which the APIService names as its caBundle. Set up as upstream's components.yaml,
 * with a shorter resolution (10 s, its minimum) so autoscaling tests see load within seconds.
 */
import { SYSTEM_IMAGES } from "../../../../scripts/image/index.js";
import type { Manifest } from "../api/manifests.js";

export const METRICS_SERVER = {
  namespace: "kube-system",
  name: "metrics-server",
  port: 10250,
  metricResolution: "10s",
  /** metrics-server requires its resolution to exceed this by a tenth. */
  kubeletRequestTimeout: "5s",
  apiService: "v1beta1.metrics.k8s.io",
};

/** The serving certificate's name, as the aggregator asks for it. */
export const METRICS_SERVER_DNS_NAME = `${METRICS_SERVER.name}.${METRICS_SERVER.namespace}.svc`;

export function metricsServerManifests(serving: { certPem: string; keyPem: string; caPem: string }): Manifest[] {
  const { namespace, name } = METRICS_SERVER;
  const labels = { "k8s-app": name };
  const rbac = "rbac.authorization.k8s.io/v1";
  const roleRef = (kind: string, role: string) => ({ apiGroup: "rbac.authorization.k8s.io", kind, name: role });
  const subjects = [{ kind: "ServiceAccount", name, namespace }];
  return [
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name, namespace } },
    {
      apiVersion: rbac,
      kind: "ClusterRole",
      metadata: { name: "system:metrics-server" },
      rules: [
        { apiGroups: [""], resources: ["nodes/metrics"], verbs: ["get"] },
        { apiGroups: [""], resources: ["pods", "nodes"], verbs: ["get", "list", "watch"] },
      ],
    },
    {
      apiVersion: rbac,
      kind: "ClusterRole",
      metadata: {
        name: "system:aggregated-metrics-reader",
        labels: { "rbac.authorization.k8s.io/aggregate-to-view": "true", "rbac.authorization.k8s.io/aggregate-to-edit": "true", "rbac.authorization.k8s.io/aggregate-to-admin": "true" },
      },
      rules: [{ apiGroups: ["metrics.k8s.io"], resources: ["pods", "nodes"], verbs: ["get", "list", "watch"] }],
    },
    { apiVersion: rbac, kind: "ClusterRoleBinding", metadata: { name: "system:metrics-server" }, roleRef: roleRef("ClusterRole", "system:metrics-server"), subjects },
    { apiVersion: rbac, kind: "ClusterRoleBinding", metadata: { name: "metrics-server:system:auth-delegator" }, roleRef: roleRef("ClusterRole", "system:auth-delegator"), subjects },
    {
      apiVersion: rbac,
      kind: "RoleBinding",
      metadata: { name: "metrics-server-auth-reader", namespace },
      roleRef: roleRef("Role", "extension-apiserver-authentication-reader"),
      subjects,
    },
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: `${name}-serving`, namespace },
      type: "kubernetes.io/tls",
      stringData: { "tls.crt": serving.certPem, "tls.key": serving.keyPem },
    },
    {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name, namespace, labels },
      spec: {
        replicas: 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: name,
            priorityClassName: "system-cluster-critical",
            containers: [
              {
                name,
                image: SYSTEM_IMAGES.metricsServer.reference,
                imagePullPolicy: "Never",
                args: [
                  `--secure-port=${METRICS_SERVER.port}`,
                  "--tls-cert-file=/etc/metrics-server/serving/tls.crt",
                  "--tls-private-key-file=/etc/metrics-server/serving/tls.key",
                  // The cluster CA, which signs each kubelet's serving certificate, from the ConfigMap every namespace has.
                  "--kubelet-certificate-authority=/etc/metrics-server/kubelet-ca/ca.crt",
                  "--kubelet-preferred-address-types=InternalIP",
                  "--kubelet-use-node-status-port",
                  `--metric-resolution=${METRICS_SERVER.metricResolution}`,
                  `--kubelet-request-timeout=${METRICS_SERVER.kubeletRequestTimeout}`,
                ],
                ports: [{ name: "https", containerPort: METRICS_SERVER.port, protocol: "TCP" }],
                readinessProbe: { httpGet: { path: "/readyz", port: "https", scheme: "HTTPS" }, periodSeconds: 2, failureThreshold: 3 },
                livenessProbe: { httpGet: { path: "/livez", port: "https", scheme: "HTTPS" }, periodSeconds: 10, failureThreshold: 3 },
                resources: { requests: { cpu: "50m", memory: "64Mi" } },
                securityContext: {
                  runAsNonRoot: true,
                  allowPrivilegeEscalation: false,
                  readOnlyRootFilesystem: true,
                  capabilities: { drop: ["ALL"] },
                  seccompProfile: { type: "RuntimeDefault" },
                },
                volumeMounts: [
                  { name: "serving", mountPath: "/etc/metrics-server/serving", readOnly: true },
                  { name: "kubelet-ca", mountPath: "/etc/metrics-server/kubelet-ca", readOnly: true },
                  { name: "tmp", mountPath: "/tmp" },
                ],
              },
            ],
            volumes: [
              { name: "serving", secret: { secretName: `${name}-serving` } },
              { name: "kubelet-ca", configMap: { name: "kube-root-ca.crt" } },
              { name: "tmp", emptyDir: {} },
            ],
          },
        },
      },
    },
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name, namespace, labels },
      spec: { selector: labels, ports: [{ name: "https", port: 443, targetPort: "https", protocol: "TCP" }] },
    },
    {
      apiVersion: "apiregistration.k8s.io/v1",
      kind: "APIService",
      metadata: { name: METRICS_SERVER.apiService, labels },
      spec: {
        service: { name, namespace, port: 443 },
        group: "metrics.k8s.io",
        version: "v1beta1",
        caBundle: Buffer.from(serving.caPem).toString("base64"),
        groupPriorityMinimum: 100,
        versionPriority: 100,
      },
    },
  ];
}
