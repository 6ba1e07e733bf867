import assert from "node:assert/strict";
import {
  CLIENT_SCHEME_LABEL,
  CONFIG_HASH_ANNOTATION,
  buildClientService,
  buildConfigMap,
  buildPeerService,
  buildPodDisruptionBudget,
  buildSecret,
  buildStatefulSet,
  claimName,
  clusterLabels,
  configHash,
  generateToken,
  objectNames,
  selectorString,
  tokenOf,
} from "../../../../operator/resources/index.js";
import { readFileSync } from "node:fs";
import { parseNodeConfig } from "../../../../node/config/index.js";
import { defaultStorageImage } from "../../../../operator/api/index.js";
import { dynamoCluster } from "../fixtures.js";

const packageJson = JSON.parse(readFileSync(new URL("../../../../package.json", import.meta.url), "utf8")) as { version: string };

const CONTRACT_LABELS = {
  "app.kubernetes.io/name": "dynamo",
  "app.kubernetes.io/instance": "kv",
  "app.kubernetes.io/component": "storage",
  "app.kubernetes.io/managed-by": "dynamo-operator",
};

describe("resource builders", () => {
  const cluster = dynamoCluster({ buckets: [{ name: "carts", n: 3, r: 2, w: 2, reconciliation: "lww" }], tuning: { requestTimeoutMs: 2000 } });

  it("name objects as the contract fixes", () => {
    assert.deepEqual(objectNames("x"), {
      statefulSet: "x",
      clientService: "x",
      peerService: "x-peers",
      podDisruptionBudget: "x",
      configMap: "x-config",
      secret: "x-token",
      caSecret: "x-ca-key",
      caConfigMap: "x-ca",
      peerTlsSecret: "x-peer-tls",
      clientTlsSecret: "x-client-tls",
      operatorTlsSecret: "x-operator-tls",
      networkPolicy: "x",
      peerCertificate: "x-peer",
      clientCertificate: "x-client",
      operatorCertificate: "x-operator",
    });
    assert.equal(selectorString("x"), "app.kubernetes.io/component=storage,app.kubernetes.io/instance=x,app.kubernetes.io/name=dynamo");
  });

  it("give every owned object the four labels and a controller owner reference", () => {
    const objects = [
      buildConfigMap(cluster),
      buildSecret(cluster, "a-token-of-sixteen-chars"),
      buildPeerService(cluster),
      buildClientService(cluster),
      buildPodDisruptionBudget(cluster),
      buildStatefulSet(cluster, { replicas: 3, defaultImage: "ringkv/dynamo:test" }),
    ];
    for (const object of objects) {
      assert.deepEqual(object.metadata?.labels, CONTRACT_LABELS, object.kind);
      assert.equal(object.metadata?.namespace, "ns");
      assert.deepEqual(object.metadata?.ownerReferences, [
        { apiVersion: "dynamo.ringkv.dev/v1alpha1", kind: "DynamoCluster", name: "kv", uid: cluster.metadata.uid, controller: true, blockOwnerDeletion: true },
      ]);
    }
  });

  it("refuse to build an owned object for a cluster without a uid", () => {
    const orphan = { ...cluster, metadata: { ...cluster.metadata, uid: undefined } };
    assert.throws(() => buildConfigMap(orphan), /no uid/);
  });

  it("write a configuration file the node accepts", () => {
    const map = buildConfigMap(cluster);
    assert.equal(map.metadata?.name, "kv-config");
    const config = parseNodeConfig(JSON.parse(map.data?.["config.json"] ?? ""));
    assert.equal(config.buckets.get("carts")?.reconciliation, "lww");
    assert.equal(config.buckets.get("default")?.n, 3);
    assert.equal(config.tuning.requestTimeoutMs, 2000);
  });

  it("change the configuration hash exactly when the configuration changes", () => {
    assert.equal(configHash(cluster), configHash(dynamoCluster({ buckets: cluster.spec.buckets, tuning: { requestTimeoutMs: 2000 }, replicas: 5 })));
    assert.notEqual(configHash(cluster), configHash(dynamoCluster({ buckets: cluster.spec.buckets })));
  });

  it("keep the token they are given, as base64 data", () => {
    const secret = buildSecret(cluster, "kept-token-0123456789");
    assert.equal(secret.metadata?.name, "kv-token");
    assert.equal(tokenOf(secret), "kept-token-0123456789");
    assert.equal(secret.stringData, undefined);
    assert.throws(() => buildSecret(cluster, "short"));
  });

  it("generate tokens from the randomness they are given", () => {
    assert.equal(generateToken((n) => Buffer.alloc(n, 1)), Buffer.alloc(32, 1).toString("base64url"));
    assert.notEqual(generateToken(), generateToken());
  });

  it("make the peer service headless and publish not-ready pods", () => {
    const service = buildPeerService(cluster);
    assert.equal(service.metadata?.name, "kv-peers");
    assert.equal(service.spec?.clusterIP, "None");
    assert.equal(service.spec?.publishNotReadyAddresses, true);
    assert.deepEqual(service.spec?.ports?.map((p) => p.port).sort(), [8080, 8081]);
  });

  it("put only the client port behind the client service", () => {
    const service = buildClientService(cluster);
    assert.equal(service.metadata?.name, "kv");
    assert.equal(service.spec?.publishNotReadyAddresses, undefined);
    assert.deepEqual(service.spec?.ports?.map((p) => p.port), [8080]);
    assert.equal(service.spec?.selector?.["app.kubernetes.io/instance"], "kv");
  });

  it("allow one voluntary disruption by default, or what the spec says", () => {
    assert.equal(buildPodDisruptionBudget(cluster).spec?.maxUnavailable, 1);
    assert.equal(buildPodDisruptionBudget(dynamoCluster({ podDisruptionBudget: { maxUnavailable: 2 } })).spec?.maxUnavailable, 2);
  });
});

describe("StatefulSet builder", () => {
  const cluster = dynamoCluster({
    image: "ringkv/dynamo:1.2.3",
    storage: { size: "5Gi", storageClassName: "fast" },
    resources: { requests: { cpu: 1, memory: "1Gi" }, limits: { memory: "2Gi" } },
    persistentVolumeClaimRetentionPolicy: { whenDeleted: "Delete", whenScaled: "Delete" },
    scheduling: {
      nodeSelector: { disk: "ssd" },
      tolerations: [{ key: "dedicated", operator: "Exists" }],
      priorityClassName: "storage",
      affinity: { podAntiAffinity: {} },
      topologySpreadConstraints: [{ maxSkew: 1, topologyKey: "zone", whenUnsatisfiable: "DoNotSchedule" }],
    },
  });
  const sts = buildStatefulSet(cluster, { replicas: 4, defaultImage: "ringkv/dynamo:test" });
  const pod = sts.spec?.template.spec;
  const container = pod?.containers[0];
  const env = Object.fromEntries((container?.env ?? []).map((e) => [e.name, e.value ?? e.valueFrom?.fieldRef?.fieldPath]));

  it("runs the operator's default image, tagged and without a pull policy, when the cluster names none", () => {
    const plain = buildStatefulSet(dynamoCluster(), { replicas: 3, defaultImage: "registry.example/dynamo:0.4.0" }).spec?.template.spec?.containers[0];
    assert.equal(plain?.image, "registry.example/dynamo:0.4.0");
    assert.equal(plain?.imagePullPolicy, undefined, "Kubernetes then pulls a tagged image only when it is missing");
    assert.match(defaultStorageImage(), new RegExp(`^ringkv/dynamo:${packageJson.version.replace(/\./g, "\\.")}$`), "the built-in default is this build's version");
  });

  it("takes its replicas from the reconciler, not from the spec", () => {
    assert.equal(sts.spec?.replicas, 4);
    assert.equal(cluster.spec.replicas, 3);
  });

  it("is governed by the headless peer service and selects by the stable labels", () => {
    assert.equal(sts.spec?.serviceName, "kv-peers");
    assert.deepEqual(sts.spec?.selector.matchLabels, {
      "app.kubernetes.io/name": "dynamo",
      "app.kubernetes.io/instance": "kv",
      "app.kubernetes.io/component": "storage",
    });
    // The client scheme label lets one PodMonitor scrape clusters with and without client TLS.
    assert.deepEqual(sts.spec?.template.metadata?.labels, { ...clusterLabels("kv"), [CLIENT_SCHEME_LABEL]: "https" });
  });

  it("runs `dynamo node` with the pod name as id and the pod IP as host and advertised address", () => {
    assert.equal(container?.image, "ringkv/dynamo:1.2.3");
    assert.deepEqual(container?.args, ["node"]);
    assert.equal(env.POD_IP, "status.podIP");
    assert.equal(env.POD_NAME, "metadata.name");
    assert.equal(env.DYNAMO_ID, "$(POD_NAME)");
    assert.equal(env.DYNAMO_HOST, "$(POD_IP)");
    assert.equal(env.DYNAMO_ADVERTISE, "$(POD_IP)");
    assert.equal(env.DYNAMO_PORT, "8080");
    assert.equal(env.DYNAMO_PEER_PORT, "8081");
    const names = (container?.env ?? []).map((e) => e.name);
    assert.ok(names.indexOf("POD_IP") < names.indexOf("DYNAMO_HOST"), "a $(VAR) reference only sees variables defined before it");
  });

  it("mounts the token and the configuration as files and the data on the claim", () => {
    const mounts = Object.fromEntries((container?.volumeMounts ?? []).map((m) => [m.name, m.mountPath]));
    assert.equal(env.DYNAMO_DATA_DIR, mounts.data);
    assert.equal(env.DYNAMO_CONFIG, `${mounts.config}/config.json`);
    assert.equal(env.DYNAMO_TOKEN_FILE, `${mounts.token}/token`);
    const volumes = Object.fromEntries((pod?.volumes ?? []).map((v) => [v.name, v]));
    assert.equal(volumes.config?.configMap?.name, "kv-config");
    assert.equal(volumes.token?.secret?.secretName, "kv-token");
    assert.equal(volumes.data, undefined, "data comes from the claim template");
    const claim = sts.spec?.volumeClaimTemplates?.[0];
    assert.equal(claim?.metadata?.name, "data");
    assert.equal(claim?.spec?.storageClassName, "fast");
    assert.deepEqual(claim?.spec?.resources?.requests, { storage: "5Gi" });
    assert.equal(claimName("kv-2"), "data-kv-2");
  });

  it("probes liveness on /healthz and readiness on /readyz", () => {
    assert.equal(container?.livenessProbe?.httpGet?.path, "/healthz");
    assert.equal(container?.readinessProbe?.httpGet?.path, "/readyz");
    assert.equal(container?.readinessProbe?.httpGet?.port, "client");
  });

  it("runs as non-root with a read-only root filesystem and a writable TMPDIR", () => {
    assert.equal(pod?.securityContext?.runAsNonRoot, true);
    assert.equal(container?.securityContext?.runAsNonRoot, true);
    assert.equal(container?.securityContext?.readOnlyRootFilesystem, true);
    assert.equal(container?.securityContext?.allowPrivilegeEscalation, false);
    assert.deepEqual(container?.securityContext?.capabilities?.drop, ["ALL"]);
    assert.ok(pod?.volumes?.some((v) => v.name === "tmp" && v.emptyDir));
    assert.equal(env.TMPDIR, container?.volumeMounts?.find((m) => m.name === "tmp")?.mountPath);
  });

  it("passes resources, as strings, and the scheduling fields through", () => {
    assert.deepEqual(container?.resources, { requests: { cpu: "1", memory: "1Gi" }, limits: { memory: "2Gi" } });
    assert.deepEqual(pod?.nodeSelector, { disk: "ssd" });
    assert.deepEqual(pod?.tolerations, [{ key: "dedicated", operator: "Exists" }]);
    assert.equal(pod?.priorityClassName, "storage");
    assert.deepEqual(pod?.affinity, { podAntiAffinity: {} });
    assert.equal(pod?.topologySpreadConstraints?.length, 1);
  });

  it("spreads pods over zones by default, as a preference, and takes the spec's constraints (or none) instead", () => {
    const plain = buildStatefulSet(dynamoCluster(), { replicas: 3, defaultImage: "ringkv/dynamo:test" }).spec?.template.spec;
    assert.deepEqual(plain?.topologySpreadConstraints, [
      {
        maxSkew: 1,
        topologyKey: "topology.kubernetes.io/zone",
        whenUnsatisfiable: "ScheduleAnyway",
        labelSelector: { matchLabels: { "app.kubernetes.io/name": "dynamo", "app.kubernetes.io/instance": "kv", "app.kubernetes.io/component": "storage" } },
      },
    ]);
    assert.deepEqual(pod?.topologySpreadConstraints, [{ maxSkew: 1, topologyKey: "zone", whenUnsatisfiable: "DoNotSchedule" }]);
    const off = buildStatefulSet(dynamoCluster({ scheduling: { topologySpreadConstraints: [] } }), { replicas: 3, defaultImage: "ringkv/dynamo:test" }).spec?.template.spec;
    assert.deepEqual(off?.topologySpreadConstraints, []);
  });

  it("keeps the claim retention policy of the spec, and deletes scaled-away claims by default", () => {
    assert.deepEqual(sts.spec?.persistentVolumeClaimRetentionPolicy, { whenDeleted: "Delete", whenScaled: "Delete" });
    assert.deepEqual(buildStatefulSet(dynamoCluster(), { replicas: 3, defaultImage: "ringkv/dynamo:test" }).spec?.persistentVolumeClaimRetentionPolicy, {
      whenDeleted: "Retain",
      whenScaled: "Delete",
    });
  });

  it("stamps the configuration hash on the pod template", () => {
    assert.equal(sts.spec?.template.metadata?.annotations?.[CONFIG_HASH_ANNOTATION], configHash(cluster));
  });

  it("is the same object when built twice", () => {
    assert.deepEqual(buildStatefulSet(cluster, { replicas: 4, defaultImage: "ringkv/dynamo:test" }), sts);
  });

  it("runs the peer port with mutual TLS from the operator's per-pod certificates, never in plaintext", () => {
    assert.equal(env.DYNAMO_INSECURE_PEER_PLAINTEXT, undefined);
    const mounts = Object.fromEntries((container?.volumeMounts ?? []).map((m) => [m.name, m]));
    const volumes = Object.fromEntries((pod?.volumes ?? []).map((v) => [v.name, v]));
    assert.equal(env.DYNAMO_TLS_DIR, mounts["peer-tls"]?.mountPath);
    assert.equal(mounts["peer-tls"]?.readOnly, true);
    assert.equal(volumes["peer-tls"]?.secret?.secretName, "kv-peer-tls");
    // One Secret holds every pod's pair; each node picks its own by pod name.
    assert.equal(env.DYNAMO_TLS_NAME, "$(POD_NAME)");
    const names = (container?.env ?? []).map((e) => e.name);
    assert.ok(names.indexOf("POD_NAME") < names.indexOf("DYNAMO_TLS_NAME"));
  });

  it("serves the client port over TLS by default, and probes it over HTTPS", () => {
    const mounts = Object.fromEntries((container?.volumeMounts ?? []).map((m) => [m.name, m.mountPath]));
    const volumes = Object.fromEntries((pod?.volumes ?? []).map((v) => [v.name, v]));
    assert.equal(env.DYNAMO_CLIENT_TLS_DIR, mounts["client-tls"]);
    assert.equal(volumes["client-tls"]?.secret?.secretName, "kv-client-tls");
    assert.equal(container?.livenessProbe?.httpGet?.scheme, "HTTPS");
    assert.equal(container?.readinessProbe?.httpGet?.scheme, "HTTPS");
    assert.equal(sts.spec?.template.metadata?.labels?.[CLIENT_SCHEME_LABEL], "https");
  });

  it("serves plain HTTP on the client port when spec.tls.client is off; the peer port keeps mutual TLS", () => {
    const plain = buildStatefulSet(dynamoCluster({ tls: { client: { enabled: false } } }), { replicas: 3, defaultImage: "ringkv/dynamo:test" });
    const c = plain.spec?.template.spec?.containers[0];
    const names = (c?.env ?? []).map((e) => e.name);
    assert.ok(!names.includes("DYNAMO_CLIENT_TLS_DIR"));
    assert.ok(names.includes("DYNAMO_TLS_DIR"));
    assert.ok(!(plain.spec?.template.spec?.volumes ?? []).some((v) => v.name === "client-tls"));
    assert.equal(c?.readinessProbe?.httpGet?.scheme, "HTTP");
    assert.equal(plain.spec?.template.metadata?.labels?.[CLIENT_SCHEME_LABEL], "http");
  });

  it("mounts the user's client tokens Secret as the tokens file when spec.clientTokens names one", () => {
    assert.equal(env.DYNAMO_CLIENT_TOKENS_FILE, undefined);
    const withTokens = buildStatefulSet(dynamoCluster({ clientTokens: { secretName: "shop-tokens" } }), { replicas: 3, defaultImage: "ringkv/dynamo:test" });
    const c = withTokens.spec?.template.spec?.containers[0];
    const e = Object.fromEntries((c?.env ?? []).map((x) => [x.name, x.value]));
    const mount = (c?.volumeMounts ?? []).find((m) => m.name === "client-tokens");
    assert.equal(e.DYNAMO_CLIENT_TOKENS_FILE, `${mount?.mountPath}/tokens.yaml`);
    const volume = (withTokens.spec?.template.spec?.volumes ?? []).find((v) => v.name === "client-tokens");
    assert.equal(volume?.secret?.secretName, "shop-tokens");
  });

  it("mounts cert-manager's shared peer certificate as it is when the cluster names an issuer", () => {
    const issued = buildStatefulSet(dynamoCluster({ tls: { issuerRef: { name: "dynamo-ca" } } }), { replicas: 3, defaultImage: "ringkv/dynamo:test" });
    const names = (issued.spec?.template.spec?.containers[0]?.env ?? []).map((e) => e.name);
    assert.ok(names.includes("DYNAMO_TLS_DIR"));
    assert.ok(!names.includes("DYNAMO_TLS_NAME"));
  });
});
