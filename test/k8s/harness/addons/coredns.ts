/**
 * Cluster DNS: CoreDNS (built by the toolchain script, imaged by scripts/image/system-images.ts) as a Deployment in
 * kube-system behind the `kube-dns` Service at the address every kubelet hands its pods, so pods find Services and
 * each other by the names real clusters give them (`svc.ns.svc.cluster.local`, and `pod.headless-svc.ns.svc...` for
 * StatefulSet pods). It listens on an unprivileged port and runs as nobody with a read-only root; the Service maps
 * port 53 to it. Names outside the cluster get no answer: there is no upstream resolver inside the sandbox.
 */
import { SYSTEM_IMAGES } from "../../../../scripts/image/index.js";
import type { Manifest } from "../api/manifests.js";
import { NETWORK_PLAN } from "../sandbox/network-plan.js";

export const COREDNS = {
  namespace: "kube-system",
  name: "coredns",
  service: "kube-dns",
  port: 1053,
  healthPort: 8080,
  readyPort: 8181,
};

export const COREFILE = `.:${COREDNS.port} {
    errors
    health :${COREDNS.healthPort}
    ready :${COREDNS.readyPort}
    kubernetes ${NETWORK_PLAN.clusterDomain} in-addr.arpa ip6.arpa {
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 30
    }
    cache 30
    loadbalance
}
`;

export function corednsManifests(): Manifest[] {
  const { namespace, name } = COREDNS;
  const labels = { "k8s-app": "kube-dns" };
  return [
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name, namespace } },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: { name: "system:coredns" },
      rules: [
        { apiGroups: [""], resources: ["endpoints", "services", "pods", "namespaces"], verbs: ["list", "watch"] },
        { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["list", "watch"] },
      ],
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: { name: "system:coredns" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "system:coredns" },
      subjects: [{ kind: "ServiceAccount", name, namespace }],
    },
    { apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace }, data: { Corefile: COREFILE } },
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
            // CoreDNS cannot resolve through itself.
            dnsPolicy: "Default",
            containers: [
              {
                name: "coredns",
                image: SYSTEM_IMAGES.coredns.reference,
                imagePullPolicy: "Never",
                args: ["-conf", "/etc/coredns/Corefile"],
                ports: [
                  { name: "dns", containerPort: COREDNS.port, protocol: "UDP" },
                  { name: "dns-tcp", containerPort: COREDNS.port, protocol: "TCP" },
                ],
                readinessProbe: { httpGet: { path: "/ready", port: COREDNS.readyPort }, periodSeconds: 2 },
                livenessProbe: { httpGet: { path: "/health", port: COREDNS.healthPort }, periodSeconds: 10, failureThreshold: 5 },
                resources: { requests: { cpu: "50m", memory: "32Mi" }, limits: { memory: "128Mi" } },
                securityContext: { runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } },
                volumeMounts: [{ name: "config", mountPath: "/etc/coredns", readOnly: true }],
              },
            ],
            volumes: [{ name: "config", configMap: { name } }],
          },
        },
      },
    },
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: COREDNS.service, namespace, labels },
      spec: {
        selector: labels,
        clusterIP: NETWORK_PLAN.clusterDns,
        ports: [
          { name: "dns", port: 53, targetPort: COREDNS.port, protocol: "UDP" },
          { name: "dns-tcp", port: 53, targetPort: COREDNS.port, protocol: "TCP" },
        ],
      },
    },
  ];
}
