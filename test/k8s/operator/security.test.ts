// The operator's security on the real control plane, with real `dynamo node` pods: a cluster comes up Available with
// mutual TLS on the peer port (no plaintext opt-out in its pods), the operator's own admin calls going over it; the
// client port serves TLS from the cluster's CA, published in ConfigMap X-ca, and requires the client tokens of the
// user's Secret; NetworkPolicy X exists as the builder makes it; and under client load at r=w=2 the leaf
// certificates (of 60 s, so they renew every 40 s) and then the CA rotate with no failed request while the cluster
// stays Available. A second cluster names a cert-manager issuer: once cert-manager's CRD exists (the CRD alone, no
// controller), the operator creates its Certificates and the pods wait for the Secrets cert-manager would fill.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { request as httpRequest } from "node:http";
import type { V1StatefulSet } from "@kubernetes/client-node";
import { AdminClient } from "../../../driver/index.js";
import { createCa, issueCertificate } from "../../../node/pki/index.js";
import { clientTlsOptions } from "../../../node/tls/index.js";
import type { Operator } from "../../../operator/controller/index.js";
import { ROTATE_CA_ANNOTATION } from "../../../operator/certificates/index.js";
import { buildNetworkPolicy } from "../../../operator/resources/index.js";
import { parseDynamoCluster } from "../../../operator/api/index.js";
import { testSeed } from "../../helpers/random.js";
import { admin, createNamespace, deleteNamespace, sleep, waitFor } from "../harness/index.js";
import {
  ClusterLoad,
  clientRequest,
  clusterAdmin,
  clusterEvents,
  clusterPods,
  clustersPath,
  conditionTrue,
  createCluster,
  installCrd,
  peerUrlOf,
  readCluster,
  readyClientUrls,
  startOperator,
  waitStable,
} from "./helpers.js";
import { CERT_MANAGER_CRD } from "./cert-manager-crd.js";

const NAME = "kv";
const TOKENS_SECRET = "kv-client-tokens";

function newToken(): { token: string; sha256: string } {
  const token = `dyn_${randomBytes(32).toString("base64url")}`;
  return { token, sha256: createHash("sha256").update(token).digest("hex") };
}

/** A plain-HTTP request to a TLS port: the handshake-less request must get no answer a client could use. */
async function plaintextStatus(url: string): Promise<number | string> {
  return new Promise((resolve) => {
    const req = httpRequest(url, { timeout: 5_000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", (err) => resolve(err.message));
    req.end();
  });
}

describe("operator: certificates, client TLS and tokens, NetworkPolicy", function () {
  this.timeout(300_000);
  let ns = "";
  let operator: Operator | undefined;
  const writer = newToken();
  const reader = newToken();

  before(async function () {
    this.timeout(240_000);
    await installCrd();
    ns = await createNamespace("op-sec");
    operator = await startOperator(ns);
    const tokens = [
      `tokens:`,
      `  - name: writer`,
      `    sha256: ${writer.sha256}`,
      `    grants: { default: rw }`,
      `  - name: reader`,
      `    sha256: ${reader.sha256}`,
      `    grants: { default: r }`,
      ``,
    ].join("\n");
    await admin().post(`/api/v1/namespaces/${ns}/secrets`, { apiVersion: "v1", kind: "Secret", metadata: { name: TOKENS_SECRET }, stringData: { "tokens.yaml": tokens } });
    await createCluster(ns, NAME, {
      replicas: 3,
      partitions: 32,
      clientTokens: { secretName: TOKENS_SECRET },
      // Short lifetimes, so leaves renew (with a third left: every 40 s) while the test runs.
      tls: { certificateLifetimeSeconds: 60, caLifetimeSeconds: 600 },
      tuning: { gossipIntervalMs: 200, phiThreshold: 5, requestTimeoutMs: 3000, peerTimeoutMs: 1500 },
    });
    await waitStable(ns, NAME, 3);
  });

  after(async () => {
    await operator?.stop();
    if (ns) await deleteNamespace(ns);
  });

  it("runs the peer port with mutual TLS only, and the operator's calls use it", async () => {
    const sts = await admin().get<V1StatefulSet>(`/apis/apps/v1/namespaces/${ns}/statefulsets/${NAME}`);
    const env = sts.spec?.template.spec?.containers[0]?.env ?? [];
    assert.ok(!env.some((e) => e.name === "DYNAMO_INSECURE_PEER_PLAINTEXT"), "the pods still run the peer port in plaintext");
    assert.ok(env.some((e) => e.name === "DYNAMO_TLS_DIR"));
    const cluster = await readCluster(ns, NAME);
    assert.ok(conditionTrue(cluster, "CertificatesReady"), JSON.stringify(cluster.status?.conditions));
    assert.equal(cluster.status?.tls?.issuer, "Operator");
    assert.equal(cluster.status?.tls?.caConfigMap, `${NAME}-ca`);
    // The operator's status comes from its admin calls, which only succeed over mutual TLS with its certificate.
    assert.equal((cluster.status?.members ?? []).filter((m) => m.reachable).length, 3);

    const pod = (await clusterPods(ns, NAME))[0]!;
    const plain = await plaintextStatus(`http://${pod.status?.podIP}:8081/v1/admin/node`);
    assert.ok(typeof plain === "string" || plain === 400, `the peer port answered plain HTTP with ${plain}`);
    // A certificate of another CA, with the right token, is no member.
    const token = Buffer.from((await admin().get<{ data: Record<string, string> }>(`/api/v1/namespaces/${ns}/secrets/${NAME}-token`)).data.token!, "base64").toString();
    const stranger = await createCa({ commonName: "stranger", notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + 3600_000) });
    const leaf = await issueCertificate(stranger, { commonName: "stranger", hosts: [], notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + 3600_000) });
    const ca = Buffer.from((await admin().get<{ data: Record<string, string> }>(`/api/v1/namespaces/${ns}/secrets/${NAME}-ca-key`)).data["ca.crt"]!, "base64").toString();
    const impostor = new AdminClient(token, 3000, () => clientTlsOptions({ ca, cert: leaf.cert, key: leaf.key }));
    await assert.rejects(impostor.node(peerUrlOf(pod)));
    const member = await clusterAdmin(ns, NAME);
    assert.equal((await member.node(peerUrlOf(pod))).id, pod.metadata.name);
  });

  it("serves the client port over TLS from the published CA, checked against the client Service's name, with tokens", async () => {
    const [url] = await readyClientUrls(ns, NAME);
    assert.match(url!, /^https:/);
    // clientRequest trusts ConfigMap kv-ca and checks the certificate against kv.NS.svc, as a client of the Service.
    const anonymous = await clientRequest(ns, NAME, `${url}/v1/kv/default/greeting`, { method: "PUT", body: "hello" });
    assert.equal(anonymous.status, 401, anonymous.body);
    const auth = (t: string) => ({ Authorization: `Bearer ${t}`, "Content-Type": "text/plain" });
    const readOnly = await clientRequest(ns, NAME, `${url}/v1/kv/default/greeting`, { method: "PUT", body: "hello", headers: auth(reader.token) });
    assert.equal(readOnly.status, 403, readOnly.body);
    const put = await clientRequest(ns, NAME, `${url}/v1/kv/default/greeting`, { method: "PUT", body: "hello", headers: auth(writer.token) });
    assert.equal(put.status, 204, put.body);
    const got = await clientRequest(ns, NAME, `${url}/v1/kv/default/greeting`, { headers: auth(reader.token) });
    assert.equal(got.status, 200, got.body);
    assert.equal(got.body, "hello");
    // The kubelet's probes still pass with TLS on: every pod is ready.
    assert.equal((await readyClientUrls(ns, NAME)).length, 3);
  });

  it("keeps NetworkPolicy kv as the builder makes it: peers from the cluster and the operator, clients from the namespace", async () => {
    const found = await admin().get<{ spec: unknown; metadata: { labels?: Record<string, string> } }>(`/apis/networking.k8s.io/v1/namespaces/${ns}/networkpolicies/${NAME}`);
    const raw = await admin().get<Record<string, unknown>>(`${clustersPath(ns)}/${NAME}`);
    const expected = buildNetworkPolicy(parseDynamoCluster(raw), undefined);
    assert.deepEqual(found.spec, expected.spec);
    assert.equal(found.metadata.labels?.["app.kubernetes.io/managed-by"], "dynamo-operator");
  });

  it("renews the leaves and rotates the CA under load at r=w=2 with no failed request, staying Available", async () => {
    const load = new ClusterLoad(ns, NAME, testSeed("op-sec load"), { client: { token: writer.token } });
    const startedAt = Date.now();
    const unavailable: string[] = [];
    // A leaf renewal is issued because the leaf expires soon; the CA switch re-issues every leaf for another reason.
    const renewals = async () => (await clusterEvents(ns, NAME)).filter((e) => e.reason === "CertificatesIssued" && e.message.includes("(it expires at ")).length;
    const renewalsBefore = await renewals();
    /** Notes every time the cluster is not Available; always true, so it can lead a wait's condition. */
    const stillAvailable = async () => {
      const c = await readCluster(ns, NAME);
      if (!conditionTrue(c, "Available")) {
        const available = c.status?.conditions?.find((x) => x.type === "Available");
        unavailable.push(`${new Date().toISOString()} ${available?.status} ${available?.reason}: ${available?.message} (${c.status?.message})`);
      }
      return true;
    };
    await load.start();
    try {
      // At least one round of leaf renewals under the load (a 60 s leaf renews at 40 s, so this takes 40 s at most),
      // before the CA rotation: the switch to the new CA re-issues every leaf and would put the next renewal off.
      await waitFor("a round of leaf renewals under load", async () => ((await stillAvailable()) && (await renewals()) > renewalsBefore ? true : undefined), {
        timeoutMs: 90_000,
        intervalMs: 1_000,
      });
      const rotationAt = Date.now();
      await admin().patch(`${clustersPath(ns)}/${NAME}`, { metadata: { annotations: { [ROTATE_CA_ANNOTATION]: String(Date.now()) } } }, "merge");
      await waitFor(
        "the CA rotation to finish",
        async () => ((await stillAvailable()) && (await clusterEvents(ns, NAME)).some((e) => e.reason === "CARotationFinished") ? true : undefined),
        { timeoutMs: 240_000, intervalMs: 1_000 },
      );
      console.error(`    [rotation] leaves renewed ${Math.round((rotationAt - startedAt) / 1000)} s into the load; the CA rotated in ${Math.round((Date.now() - rotationAt) / 1000)} s`);
      // The retiring bundle reaches the pods and their next re-read.
      await sleep(10_000);
    } finally {
      await load.stop();
    }
    const reasons = (await clusterEvents(ns, NAME)).map((e) => e.reason);
    for (const reason of ["CertificatesIssued", "CARotationStarted", "CARotationSwitched", "CARotationFinished"]) assert.ok(reasons.includes(reason), `no ${reason} Event: ${reasons.join(", ")}`);
    console.error(`    [rotation] ${load.checker.acknowledgedCount} writes acknowledged in ${Math.round((Date.now() - startedAt) / 1000)} s`);
    assert.equal(load.checker.failures, 0, `failed requests: ${load.checker.errors.slice(0, 5).join("; ")}`);
    assert.deepEqual(unavailable, [], "the cluster was not Available during the rotation");
    await load.assertNothingLost("certificate rotation");
    const cluster = await readCluster(ns, NAME);
    assert.ok(conditionTrue(cluster, "CertificatesReady"));
    assert.equal(cluster.status?.tls?.rotation, undefined, `a rotation is still reported: ${cluster.status?.tls?.rotation}`);
  });

  describe("with cert-manager's issuer", () => {
    const CM = "cm";
    before(async () => {
      const path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
      if (!(await admin().find(`${path}/${CERT_MANAGER_CRD.metadata.name}`))) await admin().post(path, CERT_MANAGER_CRD);
      await waitFor("cert-manager's Certificate CRD to be established", async () => {
        const crd = await admin().get<{ status?: { conditions?: { type: string; status: string }[] } }>(`${path}/${CERT_MANAGER_CRD.metadata.name}`);
        return crd.status?.conditions?.some((c) => c.type === "Established" && c.status === "True") ? true : undefined;
      });
      await createCluster(ns, CM, { replicas: 3, partitions: 16, tls: { issuerRef: { name: "dynamo-ca", kind: "Issuer" } } });
    });

    it("creates the Certificates and the pods wait for cert-manager's Secrets", async () => {
      const certificates = await waitFor(
        "the operator's Certificates",
        async () => {
          const list = await admin().get<{ items: { metadata: { name: string }; spec: { secretName: string; issuerRef: { name: string }; dnsNames?: string[] } }[] }>(
            `/apis/cert-manager.io/v1/namespaces/${ns}/certificates`,
          );
          return list.items.length === 3 ? list.items : undefined;
        },
        { timeoutMs: 60_000 },
      );
      assert.deepEqual(certificates.map((c) => [c.metadata.name, c.spec.secretName]).sort(), [
        [`${CM}-client`, `${CM}-client-tls`],
        [`${CM}-operator`, `${CM}-operator-tls`],
        [`${CM}-peer`, `${CM}-peer-tls`],
      ]);
      for (const c of certificates) assert.equal(c.spec.issuerRef.name, "dynamo-ca");
      assert.ok(certificates.find((c) => c.metadata.name === `${CM}-peer`)!.spec.dnsNames!.includes(`*.${CM}-peers.${ns}.svc`));
      const cluster = await waitFor("CertificatesReady=False WaitingForIssuer", async () => {
        const c = await readCluster(ns, CM);
        const condition = c.status?.conditions?.find((x) => x.type === "CertificatesReady");
        return condition?.status === "False" && condition.reason === "WaitingForIssuer" ? c : undefined;
      });
      assert.match(cluster.status?.conditions?.find((x) => x.type === "CertificatesReady")?.message ?? "", /waiting for cert-manager/);
      // No pod runs without its certificates: the kubelet holds them until the Secrets exist.
      await sleep(5_000);
      const pods = await clusterPods(ns, CM);
      assert.ok(pods.every((p) => !p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True")), "a pod became ready without certificates");
    });
  });
});
