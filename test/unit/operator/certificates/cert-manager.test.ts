import assert from "node:assert/strict";
import { buildCertificates, certificateReadiness } from "../../../../operator/certificates/index.js";
import { clusterLabels } from "../../../../operator/resources/index.js";
import { dynamoCluster } from "../fixtures.js";

describe("cert-manager Certificates", () => {
  const cluster = dynamoCluster({ tls: { issuerRef: { name: "dynamo-ca" }, certificateLifetimeSeconds: 3600 } });

  it("asks for the peer, client and operator certificates from the named issuer, into the Secrets the pods mount", () => {
    const certificates = buildCertificates(cluster, "198.18.0.10");
    assert.deepEqual(
      certificates.map((c) => [c.metadata?.name, c.spec.secretName]),
      [
        ["kv-peer", "kv-peer-tls"],
        ["kv-client", "kv-client-tls"],
        ["kv-operator", "kv-operator-tls"],
      ],
    );
    for (const c of certificates) {
      assert.equal(c.apiVersion, "cert-manager.io/v1");
      assert.equal(c.kind, "Certificate");
      assert.deepEqual(c.spec.issuerRef, { name: "dynamo-ca", kind: "Issuer", group: "cert-manager.io" });
      // Peers (and the operator) are both servers and clients of each other; the client port's certificate only serves.
      const usages = c.metadata?.name === "kv-client" ? ["digital signature", "server auth"] : ["digital signature", "server auth", "client auth"];
      assert.deepEqual(c.spec.usages, usages);
      assert.equal(c.spec.duration, "3600s");
      assert.equal(c.spec.renewBefore, "1200s");
      assert.deepEqual(c.spec.secretTemplate, { labels: clusterLabels("kv") });
      assert.equal(c.metadata?.ownerReferences?.[0]?.kind, "DynamoCluster");
    }
  });

  it("names every pod under the peer Service in the shared peer certificate, and the client Service in the client's", () => {
    const [peer, client, operator] = buildCertificates(cluster, "198.18.0.10", "example.internal");
    assert.deepEqual(peer!.spec.dnsNames, ["*.kv-peers.ns.svc", "*.kv-peers.ns.svc.example.internal"]);
    assert.ok(client!.spec.dnsNames!.includes("kv.ns.svc"));
    assert.ok(client!.spec.dnsNames!.includes("kv.ns.svc.example.internal"));
    assert.deepEqual(client!.spec.ipAddresses, ["198.18.0.10"]);
    assert.equal(operator!.spec.commonName, "dynamo-operator");
    assert.equal(operator!.spec.dnsNames, undefined);
  });

  it("leaves the client certificate out when client TLS is off", () => {
    const plain = dynamoCluster({ tls: { issuerRef: { name: "dynamo-ca", kind: "ClusterIssuer" }, client: { enabled: false } } });
    assert.deepEqual(
      buildCertificates(plain, undefined).map((c) => c.metadata?.name),
      ["kv-peer", "kv-operator"],
    );
  });

  it("refuses to build Certificates for a cluster that names no issuer", () => {
    assert.throws(() => buildCertificates(dynamoCluster(), undefined), /names no issuer/);
  });

  it("reads a Certificate's Ready condition into one line for the status", () => {
    assert.deepEqual(certificateReadiness(undefined), { ready: false, message: "cert-manager has not reported on it yet" });
    assert.deepEqual(certificateReadiness({ status: { conditions: [{ type: "Ready", status: "False", message: "Issuer dynamo-ca not found" }] } }), {
      ready: false,
      message: "Issuer dynamo-ca not found",
    });
    assert.equal(certificateReadiness({ status: { conditions: [{ type: "Ready", status: "True" }] } }).ready, true);
  });
});
