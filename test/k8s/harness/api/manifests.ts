/**
 * Creating Kubernetes objects from manifests, as `kubectl create -f` would: the REST path of an object follows from
 * its apiVersion, kind and namespace. The harness's add-ons are the only users, so the table holds the kinds they use
 * and refuses others loudly.
 */
import { ApiError, type ApiClient } from "./api-client.js";

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [key: string]: unknown };
  [field: string]: unknown;
}

const PLURALS: Record<string, string> = {
  ServiceAccount: "serviceaccounts",
  ConfigMap: "configmaps",
  Secret: "secrets",
  Service: "services",
  Deployment: "deployments",
  DaemonSet: "daemonsets",
  Role: "roles",
  RoleBinding: "rolebindings",
  ClusterRole: "clusterroles",
  ClusterRoleBinding: "clusterrolebindings",
  APIService: "apiservices",
  StorageClass: "storageclasses",
};

/** The collection path an object is created in: `/api/v1/namespaces/ns/services`, `/apis/apps/v1/...`. */
export function collectionPath(manifest: Manifest): string {
  const plural = PLURALS[manifest.kind];
  if (!plural) throw new Error(`manifests.ts does not know kind ${manifest.kind}; add its plural`);
  const group = manifest.apiVersion.includes("/") ? `/apis/${manifest.apiVersion}` : `/api/${manifest.apiVersion}`;
  const namespace = manifest.metadata.namespace ? `/namespaces/${manifest.metadata.namespace}` : "";
  return `${group}${namespace}/${plural}`;
}

/** Creates each object in order; one that already exists is left as it is. */
export async function createAll(api: ApiClient, manifests: Manifest[]): Promise<void> {
  for (const manifest of manifests) {
    try {
      await api.post(collectionPath(manifest), manifest);
    } catch (err) {
      if (!(err instanceof ApiError && err.statusCode === 409)) throw err;
    }
  }
}
