// Kubeconfig files are how both people (kubectl, helm) and programs (the operator, client libraries)
// find and authenticate to the API server. The harness writes one for the admin and one per pod for
// the pod's service account, all in the standard format with the credentials embedded.
import { writeFileSync, renameSync } from "node:fs";
import { stringify } from "yaml";

export interface KubeconfigUser {
  name: string;
  clientCertPem?: string;
  clientKeyPem?: string;
  token?: string;
  namespace?: string;
}

const b64 = (text: string): string => Buffer.from(text, "utf8").toString("base64");

export function renderKubeconfig(server: string, caPem: string, user: KubeconfigUser): string {
  const credentials: Record<string, string> = {};
  if (user.clientCertPem) credentials["client-certificate-data"] = b64(user.clientCertPem);
  if (user.clientKeyPem) credentials["client-key-data"] = b64(user.clientKeyPem);
  if (user.token) credentials.token = user.token;
  const context: Record<string, string> = { cluster: "dynamo-k8s", user: user.name };
  if (user.namespace) context.namespace = user.namespace;
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "dynamo-k8s", cluster: { server, "certificate-authority-data": b64(caPem) } }],
    users: [{ name: user.name, user: credentials }],
    contexts: [{ name: "dynamo-k8s", context }],
    "current-context": "dynamo-k8s",
  });
}

/** Writes the file through a rename, so a reader never sees half a kubeconfig. */
export function writeKubeconfig(path: string, server: string, caPem: string, user: KubeconfigUser): void {
  writeFileSync(`${path}.tmp`, renderKubeconfig(server, caPem, user), { mode: 0o600 });
  renameSync(`${path}.tmp`, path);
}
