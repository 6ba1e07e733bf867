// cert-manager's Certificate CRD, enough of it for the operator's tests: the API group, kind and version cert-manager
// serves (cert-manager.io/v1 Certificate) with the spec fields the operator sets, and a status subresource. cert-manager
// itself is not installed on the test ground: the tests check that the operator creates Certificates once the CRD
// exists, and that pods wait for the Secrets cert-manager would fill.
const selectorRef = { type: "object", required: ["name"], properties: { name: { type: "string" }, kind: { type: "string" }, group: { type: "string" } } };

export const CERT_MANAGER_CRD = {
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: "certificates.cert-manager.io" },
  spec: {
    group: "cert-manager.io",
    names: { kind: "Certificate", listKind: "CertificateList", plural: "certificates", singular: "certificate", shortNames: ["cert", "certs"] },
    scope: "Namespaced",
    versions: [
      {
        name: "v1",
        served: true,
        storage: true,
        subresources: { status: {} },
        schema: {
          openAPIV3Schema: {
            type: "object",
            required: ["spec"],
            properties: {
              spec: {
                type: "object",
                required: ["issuerRef", "secretName"],
                properties: {
                  secretName: { type: "string" },
                  commonName: { type: "string" },
                  dnsNames: { type: "array", items: { type: "string" } },
                  ipAddresses: { type: "array", items: { type: "string" } },
                  duration: { type: "string" },
                  renewBefore: { type: "string" },
                  usages: { type: "array", items: { type: "string" } },
                  issuerRef: selectorRef,
                  privateKey: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
                  secretTemplate: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
                },
              },
              status: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
            },
          },
        },
      },
    ],
  },
};
