import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { parse } from "yaml";
import { CHART_DIR, DEFAULT_RENDER, findObject, lintChart, parseManifests, render, templateRaw, templateText, type K8sObject } from "./helm.js";

const RELEASE_NS = DEFAULT_RENDER.namespace;
const FULLNAME = "dynamo-operator";
const CRD_NAME = "dynamoclusters.dynamo.ringkv.dev";

const chart = parse(readFileSync(`${CHART_DIR}/Chart.yaml`, "utf8")) as { appVersion: string };

/** Values that change every knob the issue names: two replicas, one watched namespace, the PodMonitor. */
const NON_DEFAULT_VALUES = {
  replicaCount: 2,
  watchNamespaces: ["apps"],
  metrics: { port: 9100, podMonitor: { enabled: true, labels: { release: "prometheus" } } },
  image: { tag: "0.2.0", pullPolicy: "Always" },
  resources: { requests: { cpu: "100m", memory: "200Mi" }, limits: { memory: "300Mi" } },
};

/**
 * Exactly what the operator may do, as "group/resource" → verbs; write verbs are those operator/controller/ uses.
 * Anything not here, or any extra verb, fails the test: widening the operator's rights must be a deliberate change.
 */
const MANAGED_RIGHTS: Record<string, string[]> = {
  "dynamo.ringkv.dev/dynamoclusters": ["get", "list", "watch"],
  "dynamo.ringkv.dev/dynamoclusters/status": ["get", "patch"],
  "dynamo.ringkv.dev/dynamoclusters/finalizers": ["update"],
  "apps/statefulsets": ["create", "get", "list", "patch", "watch"],
  "/services": ["create", "get", "list", "patch", "watch"],
  "/configmaps": ["create", "get", "list", "patch", "watch"],
  "policy/poddisruptionbudgets": ["create", "get", "list", "patch", "watch"],
  "/secrets": ["create", "get", "patch"],
  "/pods": ["delete", "get", "list", "watch"],
  "/persistentvolumeclaims": ["delete", "get", "list", "watch"],
  "/events": ["create"],
  "networking.k8s.io/networkpolicies": ["create", "delete", "get", "patch"],
  "cert-manager.io/certificates": ["create", "get", "patch"],
  // Backups: Jobs for DynamoBackups and bootstrap restores; DynamoBackups made and pruned by DynamoScheduledBackups.
  "dynamo.ringkv.dev/dynamobackups": ["create", "delete", "get", "list", "watch"],
  "dynamo.ringkv.dev/dynamobackups/status": ["get", "patch"],
  "dynamo.ringkv.dev/dynamobackups/finalizers": ["update"],
  "dynamo.ringkv.dev/dynamoscheduledbackups": ["get", "list", "watch"],
  "dynamo.ringkv.dev/dynamoscheduledbackups/status": ["get", "patch"],
  "dynamo.ringkv.dev/dynamoscheduledbackups/finalizers": ["update"],
  "batch/jobs": ["create", "get", "list", "watch"],
  // A running backup's progress, read from the tail of its Job pod's log.
  "/pods/log": ["get"],
};

/** The operator pods' labels, which each cluster's NetworkPolicy admits to the peer port. */
const POD_LABELS_FLAG = "--pod-labels=app.kubernetes.io/component=operator,app.kubernetes.io/instance=dynamo-operator,app.kubernetes.io/name=dynamo-operator";

const LEASE_RIGHTS = { "coordination.k8s.io/leases": ["create", "get", "update"] };

/** Zone discovery: the operator reads the Node of each storage pod by name for its zone label, nothing more. */
const NODE_ZONE_RIGHTS = { "/nodes": ["get"] };

type Rule = { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] };

/** Flattens RBAC rules into "group/resource" → sorted verbs, refusing wildcards outright. */
function rights(rules: Rule[]): Record<string, string[]> {
  const table: Record<string, Set<string>> = {};
  for (const rule of rules) {
    for (const field of [rule.apiGroups, rule.resources, rule.verbs]) assert.ok(!field.includes("*"), `wildcard in RBAC rule ${JSON.stringify(rule)}`);
    for (const group of rule.apiGroups) {
      for (const resource of rule.resources) {
        const key = `${group}/${resource}`;
        table[key] ??= new Set();
        for (const verb of rule.verbs) table[key].add(verb);
      }
    }
  }
  return Object.fromEntries(Object.entries(table).map(([key, verbs]) => [key, [...verbs].sort()]));
}

function operatorContainer(objects: K8sObject[]): K8sObject {
  const deployment = findObject(objects, "Deployment", FULLNAME, RELEASE_NS);
  const containers = deployment.spec.template.spec.containers as K8sObject[];
  assert.equal(containers.length, 1);
  return containers[0] as K8sObject;
}

function kinds(objects: K8sObject[]): string[] {
  return objects.map((o) => o.kind).sort();
}

/** Expects helm to refuse the values, naming the offending value in its message. */
function assertRefused(values: object, mentions: RegExp): void {
  const result = templateRaw(values);
  assert.notEqual(result.status, 0, `helm accepted ${JSON.stringify(values)}`);
  assert.match(result.stderr, mentions);
}

describe("helm chart charts/dynamo-operator", function () {
  // Each case runs helm once or twice (about 0.1 s each); the margin is for a busy machine.
  this.timeout(60_000);

  describe("helm lint", () => {
    it("passes with the default values", () => {
      const result = lintChart();
      assert.equal(result.status, 0, result.stdout + result.stderr);
    });

    it("passes with two replicas, namespaced RBAC and the PodMonitor on", () => {
      const result = lintChart(NON_DEFAULT_VALUES);
      assert.equal(result.status, 0, result.stdout + result.stderr);
    });
  });

  describe("default values", () => {
    let objects: K8sObject[];
    before(() => {
      objects = render();
    });

    it("renders the operator, its identity, RBAC in the release namespace (and get on Nodes), the metrics Service and the CRDs", () => {
      assert.deepEqual(kinds(objects), [
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "CustomResourceDefinition",
        "CustomResourceDefinition",
        "Deployment",
        "Role",
        "Role",
        "RoleBinding",
        "RoleBinding",
        "Service",
        "ServiceAccount",
      ]);
    });

    it("runs one replica of ringkv/dynamo at the chart's appVersion as `operator --leader-elect`", () => {
      const deployment = findObject(objects, "Deployment", FULLNAME, RELEASE_NS);
      assert.equal(deployment.spec.replicas, 1);
      const container = operatorContainer(objects);
      assert.equal(container.image, `ringkv/dynamo:${chart.appVersion}`);
      assert.deepEqual(container.args, ["operator", "--leader-elect", "--metrics-port=8090", "--metrics-host=$(POD_IP)", `--default-image=ringkv/dynamo:${chart.appVersion}`, `--namespace=${RELEASE_NS}`, POD_LABELS_FLAG]);
      const env = Object.fromEntries((container.env as K8sObject[]).map((e) => [e.name, e.value ?? e.valueFrom?.fieldRef?.fieldPath]));
      assert.deepEqual(env, { POD_NAMESPACE: "metadata.namespace", POD_IP: "status.podIP", TMPDIR: "/var/tmp/dynamo" });
      assert.equal(deployment.spec.template.spec.serviceAccountName, FULLNAME);
    });

    it("runs under the restricted pod security standard", () => {
      const deployment = findObject(objects, "Deployment", FULLNAME, RELEASE_NS);
      const pod = deployment.spec.template.spec;
      assert.equal(pod.securityContext.runAsNonRoot, true);
      assert.ok(pod.securityContext.runAsUser > 0);
      assert.equal(pod.securityContext.seccompProfile.type, "RuntimeDefault");
      assert.ok(!pod.hostNetwork && !pod.hostPID && !pod.hostIPC);
      const security = operatorContainer(objects).securityContext;
      assert.equal(security.runAsNonRoot, true);
      assert.equal(security.allowPrivilegeEscalation, false);
      assert.equal(security.readOnlyRootFilesystem, true);
      assert.deepEqual(security.capabilities, { drop: ["ALL"] });
      assert.equal(security.seccompProfile.type, "RuntimeDefault");
      assert.ok(!security.privileged);
      // Only emptyDir and projected volumes are allowed under "restricted"; the operator needs just scratch space.
      for (const volume of pod.volumes ?? []) assert.ok(volume.emptyDir, `volume ${volume.name} is not an emptyDir`);
      assert.deepEqual(operatorContainer(objects).volumeMounts, [{ name: "tmp", mountPath: "/var/tmp/dynamo" }]);
    });

    it("probes the operator's health endpoint on the metrics port, and sets resources", () => {
      const container = operatorContainer(objects);
      assert.deepEqual(container.ports, [{ name: "metrics", containerPort: 8090, protocol: "TCP" }]);
      for (const probe of [container.livenessProbe, container.readinessProbe]) {
        assert.deepEqual(probe.httpGet, { path: "/healthz", port: "metrics" });
      }
      assert.ok(container.resources.requests.cpu && container.resources.requests.memory);
      assert.ok(container.resources.limits.memory);
    });

    it("grants exactly the rights the operator uses in the release namespace, and nothing cluster-wide", () => {
      // The one cluster-wide grant is `get` on Nodes for zones (rbac.nodeZones), which Nodes being cluster-scoped forces.
      assert.ok(!objects.some((o) => (o.kind === "ClusterRole" || o.kind === "ClusterRoleBinding") && o.metadata.name === FULLNAME));
      const role = findObject(objects, "Role", FULLNAME, RELEASE_NS);
      assert.deepEqual(rights(role.rules), MANAGED_RIGHTS);
      // Secrets are never listed or watched, so no Secret is readable except by a name the operator already knows.
      assert.ok(!role.rules.some((r: Rule) => r.resources.includes("secrets") && r.verbs.some((v) => ["list", "watch"].includes(v))));
      const binding = findObject(objects, "RoleBinding", FULLNAME, RELEASE_NS);
      assert.deepEqual(binding.roleRef, { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: FULLNAME });
      assert.deepEqual(binding.subjects, [{ kind: "ServiceAccount", name: FULLNAME, namespace: RELEASE_NS }]);
    });

    it("limits Lease rights to the release namespace, where an operator watching all namespaces keeps its Lease", () => {
      const role = findObject(objects, "Role", `${FULLNAME}-leader-election`, RELEASE_NS);
      assert.deepEqual(rights(role.rules), LEASE_RIGHTS);
      const binding = findObject(objects, "RoleBinding", `${FULLNAME}-leader-election`, RELEASE_NS);
      assert.deepEqual(binding.subjects, [{ kind: "ServiceAccount", name: FULLNAME, namespace: RELEASE_NS }]);
    });

    it("exposes metrics through a Service that selects only the operator's pods", () => {
      const service = findObject(objects, "Service", `${FULLNAME}-metrics`, RELEASE_NS);
      const deployment = findObject(objects, "Deployment", FULLNAME, RELEASE_NS);
      assert.deepEqual(service.spec.selector, deployment.spec.selector.matchLabels);
      assert.deepEqual(service.spec.ports, [{ name: "metrics", port: 8090, targetPort: "metrics", protocol: "TCP" }]);
    });

    it("never labels its objects as storage pods, so no DynamoCluster selector can match the operator", () => {
      for (const object of objects) {
        assert.notEqual(object.metadata.labels?.["app.kubernetes.io/name"], "dynamo", `${object.kind} ${object.metadata.name}`);
      }
      const podLabels = findObject(objects, "Deployment", FULLNAME, RELEASE_NS).spec.template.metadata.labels;
      assert.equal(podLabels["app.kubernetes.io/name"], "dynamo-operator");
    });

    it("puts every namespaced object in the release namespace", () => {
      for (const object of objects) {
        if (["ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"].includes(object.kind)) {
          assert.equal(object.metadata.namespace, undefined);
        } else {
          assert.equal(object.metadata.namespace, RELEASE_NS, `${object.kind} ${object.metadata.name}`);
        }
      }
    });
  });

  describe("non-default values", () => {
    let objects: K8sObject[];
    before(() => {
      objects = render(NON_DEFAULT_VALUES);
    });

    it("runs two replicas, which leader election turns into a leader and a standby", () => {
      const deployment = findObject(objects, "Deployment", FULLNAME, RELEASE_NS);
      assert.equal(deployment.spec.replicas, 2);
      const container = operatorContainer(objects);
      assert.equal(container.image, "ringkv/dynamo:0.2.0");
      assert.equal(container.imagePullPolicy, "Always");
      assert.deepEqual(container.args, ["operator", "--leader-elect", "--metrics-port=9100", "--metrics-host=$(POD_IP)", "--default-image=ringkv/dynamo:0.2.0", "--namespace=apps", POD_LABELS_FLAG]);
      assert.deepEqual(container.resources, NON_DEFAULT_VALUES.resources);
    });

    it("grants the same rights as a Role in the watched namespace only; cluster-wide, only `get` on Nodes for zones", () => {
      assert.deepEqual(
        objects.filter((o) => o.kind === "ClusterRole" || o.kind === "ClusterRoleBinding").map((o) => `${o.kind} ${o.metadata.name}`),
        [`ClusterRole ${FULLNAME}-node-zones`, `ClusterRoleBinding ${FULLNAME}-node-zones`],
      );
      assert.deepEqual(rights(findObject(objects, "ClusterRole", `${FULLNAME}-node-zones`).rules), NODE_ZONE_RIGHTS);
      assert.deepEqual(findObject(objects, "ClusterRoleBinding", `${FULLNAME}-node-zones`).subjects, [{ kind: "ServiceAccount", name: FULLNAME, namespace: RELEASE_NS }]);
      assert.ok(!render({ ...NON_DEFAULT_VALUES, rbac: { nodeZones: false } }).some((o) => o.kind === "ClusterRole" || o.kind === "ClusterRoleBinding"));
      const role = findObject(objects, "Role", FULLNAME, "apps");
      assert.deepEqual(rights(role.rules), MANAGED_RIGHTS);
      const binding = findObject(objects, "RoleBinding", FULLNAME, "apps");
      assert.deepEqual(binding.roleRef, { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: FULLNAME });
      assert.deepEqual(binding.subjects, [{ kind: "ServiceAccount", name: FULLNAME, namespace: RELEASE_NS }]);
    });

    it("grants Lease rights in the watched namespace, where an operator watching one namespace keeps its Lease", () => {
      const role = findObject(objects, "Role", `${FULLNAME}-leader-election`, "apps");
      assert.deepEqual(rights(role.rules), LEASE_RIGHTS);
      assert.equal(findObject(objects, "RoleBinding", `${FULLNAME}-leader-election`, "apps").subjects[0].namespace, RELEASE_NS);
    });

    it("adds a PodMonitor scraping the metrics port of the operator's pods", () => {
      const monitor = findObject(objects, "PodMonitor", FULLNAME, RELEASE_NS);
      assert.equal(monitor.apiVersion, "monitoring.coreos.com/v1");
      assert.equal(monitor.metadata.labels?.release, "prometheus");
      const deployment = findObject(objects, "Deployment", FULLNAME, RELEASE_NS);
      assert.deepEqual(monitor.spec.selector.matchLabels, deployment.spec.selector.matchLabels);
      assert.deepEqual(monitor.spec.podMetricsEndpoints[0].port, "metrics");
      assert.equal(operatorContainer(objects).ports[0].containerPort, 9100);
    });

    it("pulls by digest when one is given", () => {
      const digest = `sha256:${"a".repeat(64)}`;
      const container = operatorContainer(render({ image: { digest } }));
      assert.equal(container.image, `ringkv/dynamo@${digest}`);
      assert.ok(container.args.includes(`--default-image=ringkv/dynamo@${digest}`), "storage nodes run the operator's image, by digest too");
    });

    it("leaves the CRD out when crds.install is false, and the keep policy off when crds.keep is false", () => {
      assert.ok(!render({ crds: { install: false } }).some((o) => o.kind === "CustomResourceDefinition"));
      const crd = findObject(render({ crds: { keep: false } }), "CustomResourceDefinition", CRD_NAME);
      assert.equal(crd.metadata.annotations?.["helm.sh/resource-policy"], undefined);
    });

    it("binds an existing service account when serviceAccount.create is false", () => {
      const rendered = render({ serviceAccount: { create: false, name: "ops" } });
      assert.ok(!rendered.some((o) => o.kind === "ServiceAccount"));
      assert.equal(findObject(rendered, "Deployment", FULLNAME).spec.template.spec.serviceAccountName, "ops");
      assert.equal(findObject(rendered, "RoleBinding", FULLNAME, RELEASE_NS).subjects[0].name, "ops");
    });

    it("grants the same rights cluster-wide only with clusterWide: true, and watches every namespace then", () => {
      const rendered = render({ clusterWide: true });
      const role = findObject(rendered, "ClusterRole", FULLNAME);
      assert.deepEqual(rights(role.rules), MANAGED_RIGHTS);
      const binding = findObject(rendered, "ClusterRoleBinding", FULLNAME);
      assert.deepEqual(binding.roleRef, { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: FULLNAME });
      assert.deepEqual(binding.subjects, [{ kind: "ServiceAccount", name: FULLNAME, namespace: RELEASE_NS }]);
      assert.ok(!rendered.some((o) => o.kind === "Role" && o.metadata.name === FULLNAME));
      assert.ok(!operatorContainer(rendered).args.some((a: string) => a.startsWith("--namespace")));
      assert.deepEqual(rights(findObject(rendered, "Role", `${FULLNAME}-leader-election`, RELEASE_NS).rules), LEASE_RIGHTS);
    });

    it("refuses clusterWide together with a watched namespace", () => {
      assertRefused({ clusterWide: true, watchNamespaces: ["apps"] }, /clusterWide/);
    });

    it("narrows get and patch on Secrets to the named clusters' own Secrets with rbac.secretsOf, verb by verb", () => {
      const role = findObject(render({ rbac: { secretsOf: ["kv", "cache"] } }), "Role", FULLNAME, RELEASE_NS);
      const secretRules = (role.rules as Rule[]).filter((r) => r.resources.includes("secrets"));
      const own = (c: string) => [`${c}-token`, `${c}-ca-key`, `${c}-peer-tls`, `${c}-client-tls`, `${c}-operator-tls`];
      assert.deepEqual(secretRules, [
        { apiGroups: [""], resources: ["secrets"], verbs: ["create"] },
        { apiGroups: [""], resources: ["secrets"], verbs: ["get", "patch"], resourceNames: [...own("kv"), ...own("cache")] },
      ]);
      // Everything else stays as it is.
      assert.deepEqual(rights(role.rules), MANAGED_RIGHTS);
    });
  });

  describe("the custom metrics API (customMetrics.enabled)", () => {
    let objects: K8sObject[];
    before(() => {
      objects = render({ customMetrics: { enabled: true } });
    });

    it("is off by default: no APIService, no extra rights, no extra port", () => {
      const defaults = render();
      assert.ok(!defaults.some((o) => o.kind === "APIService" || o.metadata.name.includes("custom-metrics")));
      assert.ok(!operatorContainer(defaults).args.some((a: string) => a.startsWith("--custom-metrics")));
    });

    it("registers v1beta2.custom.metrics.k8s.io with the aggregation layer, served by the operator's pods over a verified certificate", () => {
      const apiService = findObject(objects, "APIService", "v1beta2.custom.metrics.k8s.io");
      assert.deepEqual(apiService.spec.service, { name: `${FULLNAME}-custom-metrics`, namespace: RELEASE_NS, port: 443 });
      assert.equal(apiService.spec.insecureSkipTLSVerify, undefined);
      const secret = findObject(objects, "Secret", `${FULLNAME}-custom-metrics-tls`, RELEASE_NS);
      assert.equal(apiService.spec.caBundle, secret.data["ca.crt"]);
      const ca = new X509Certificate(Buffer.from(secret.data["ca.crt"], "base64"));
      const serving = new X509Certificate(Buffer.from(secret.data["tls.crt"], "base64"));
      assert.ok(serving.verify(ca.publicKey), "the serving certificate is signed by the caBundle's CA");
      assert.match(serving.subjectAltName ?? "", new RegExp(`DNS:${FULLNAME}-custom-metrics\\.${RELEASE_NS}\\.svc(,|$)`));
      const service = findObject(objects, "Service", `${FULLNAME}-custom-metrics`, RELEASE_NS);
      assert.deepEqual(service.spec.selector, findObject(objects, "Deployment", FULLNAME, RELEASE_NS).spec.selector.matchLabels);
      assert.deepEqual(service.spec.ports, [{ name: "https", port: 443, targetPort: "custom-metrics", protocol: "TCP" }]);
      const container = operatorContainer(objects);
      assert.ok(container.args.includes("--custom-metrics-port=6443"));
      assert.ok(container.args.includes("--custom-metrics-cert-dir=/etc/dynamo/custom-metrics"));
      assert.deepEqual(container.ports.find((p: { name: string }) => p.name === "custom-metrics"), { name: "custom-metrics", containerPort: 6443, protocol: "TCP" });
      assert.deepEqual(container.volumeMounts.find((m: { name: string }) => m.name === "custom-metrics-tls"), { name: "custom-metrics-tls", mountPath: "/etc/dynamo/custom-metrics", readOnly: true });
    });

    it("adds only SubjectAccessReviews and reading the aggregation layer's ConfigMap to the operator's rights", () => {
      const role = findObject(objects, "ClusterRole", `${FULLNAME}-custom-metrics-auth`);
      assert.deepEqual(rights(role.rules), { "authorization.k8s.io/subjectaccessreviews": ["create"] });
      const binding = findObject(objects, "ClusterRoleBinding", `${FULLNAME}-custom-metrics-auth`);
      assert.deepEqual(binding.subjects, [{ kind: "ServiceAccount", name: FULLNAME, namespace: RELEASE_NS }]);
      const reader = findObject(objects, "RoleBinding", `${FULLNAME}-custom-metrics-auth-reader`, "kube-system");
      assert.deepEqual(reader.roleRef, { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "extension-apiserver-authentication-reader" });
      assert.deepEqual(reader.subjects, [{ kind: "ServiceAccount", name: FULLNAME, namespace: RELEASE_NS }]);
      // The operator's own rights do not change.
      assert.deepEqual(rights(findObject(objects, "Role", FULLNAME, RELEASE_NS).rules), MANAGED_RIGHTS);
    });

    it("refuses a privileged port or a misspelt key", () => {
      assertRefused({ customMetrics: { enabled: true, port: 443 } }, /port/);
      assertRefused({ customMetrics: { enable: true } }, /enable/);
    });
  });

  describe("the CRD", () => {
    for (const file of ["dynamoclusters", "dynamobackups", "dynamoscheduledbackups"]) {
      it(`renders as a template that crds/${file}.yaml does not drift from (fix: node charts/sync-crd.mjs)`, () => {
        const generated = parse(readFileSync(new URL(`../../../crds/${file}.yaml`, import.meta.url), "utf8"));
        const text = templateText({}, ["--show-only", `templates/crds/${file}.yaml`]);
        // Helm and kubectl read YAML 1.1, where an unquoted `n` is false; compare what both readings give.
        for (const version of ["1.1", "1.2"] as const) {
          const [crd] = parseManifests(text, version);
          assert.ok(crd);
          const { labels: _labels, annotations: _annotations, ...metadata } = crd.metadata;
          assert.deepEqual({ ...crd, metadata }, generated, `the chart's CRD differs from crds/${file}.yaml (YAML ${version} reading)`);
        }
      });
    }

    it("is kept on uninstall, and is a template so `helm upgrade` upgrades it", () => {
      const crd = findObject(render(), "CustomResourceDefinition", CRD_NAME);
      assert.equal(crd.metadata.annotations?.["helm.sh/resource-policy"], "keep");
      assert.ok(!existsSync(`${CHART_DIR}/crds`), "the chart must not ship a crds/ directory, which Helm never upgrades (helm#8163)");
    });
  });

  describe("bad values", () => {
    it("refuses three replicas: leader election makes more than a standby pointless", () => {
      assertRefused({ replicaCount: 3 }, /replicaCount/);
    });

    it("refuses a misspelt value instead of ignoring it", () => {
      assertRefused({ replicaCont: 2 }, /replicaCont/);
      assertRefused({ metrics: { podMonitor: { enable: true } } }, /enable/);
    });

    it("refuses values of the wrong shape or out of range", () => {
      assertRefused({ image: { pullPolicy: "Sometimes" } }, /pullPolicy/);
      assertRefused({ watchNamespaces: ["Not_A_Namespace"] }, /watchNamespaces/);
      assertRefused({ watchNamespaces: ["a", "b"] }, /watchNamespaces/);
      assertRefused({ metrics: { port: 70000 } }, /port/);
      assertRefused({ podSecurityContext: { runAsUser: 0 } }, /runAsUser/);
      assertRefused({ resources: { requests: { memory: "lots" } } }, /memory/);
      assertRefused({ image: { digest: "latest" } }, /digest/);
    });

    it("refuses a Kubernetes older than the CRD's validation rules need", () => {
      const result = templateRaw({}, ["--kube-version", "v1.28.0"]);
      assert.notEqual(result.status, 0);
      assert.match(result.stderr, /kubeVersion/);
    });
  });
});
