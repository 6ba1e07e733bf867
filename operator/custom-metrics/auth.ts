/**
 * Who may read the custom metrics, decided as Kubernetes' own aggregated API servers decide it. Requests come through
 * kube-apiserver's aggregation layer, which has already authenticated the user and proves it is the aggregator with
 * a client certificate from the front-proxy CA (one of the names `--requestheader-allowed-names` lists); the user and
 * groups travel in the request headers it names. kube-apiserver publishes all of that in ConfigMap
 * kube-system/extension-apiserver-authentication. Each user is then authorized by a SubjectAccessReview with the
 * attributes the request would have on kube-apiserver itself, so RBAC decides (the HPA controller's role already
 * allows `get` on custom.metrics.k8s.io). A request without the aggregator's certificate is refused: headers alone
 * prove nothing.
 */
import type { IncomingHttpHeaders } from "node:http";
import { CUSTOM_METRICS_GROUP, CUSTOM_METRICS_VERSION, type MetricsRequest } from "./api.js";

export const AUTHENTICATION_CONFIGMAP = { namespace: "kube-system", name: "extension-apiserver-authentication" };

const AUTHENTICATED_GROUP = "system:authenticated";
const ANONYMOUS = "system:anonymous";

/** How the aggregation layer identifies itself and the user, from the ConfigMap's data. */
export interface RequestHeaderConfig {
  /** The front-proxy CA bundle (PEM) that signs the aggregator's client certificate. */
  ca: string;
  /** Common names the aggregator's certificate may have; empty means any certificate from the CA. */
  allowedNames: string[];
  usernameHeaders: string[];
  groupHeaders: string[];
  extraHeaderPrefixes: string[];
  uidHeaders: string[];
}

function jsonList(data: Record<string, string>, key: string): string[] {
  const raw = data[key];
  if (raw === undefined || raw === "") return [];
  const parsed = JSON.parse(raw) as unknown;
  if (!Array.isArray(parsed) || !parsed.every((x) => typeof x === "string")) throw new Error(`${key} in ${AUTHENTICATION_CONFIGMAP.name} is not a JSON list of strings`);
  return parsed;
}

/** Reads the ConfigMap's data; throws when it has no front-proxy CA (the aggregation layer is not configured). */
export function requestHeaderConfig(data: Record<string, string> | undefined): RequestHeaderConfig {
  const ca = data?.["requestheader-client-ca-file"];
  if (!data || !ca) {
    throw new Error(`ConfigMap ${AUTHENTICATION_CONFIGMAP.namespace}/${AUTHENTICATION_CONFIGMAP.name} has no requestheader-client-ca-file: kube-apiserver runs without --requestheader-client-ca-file, so it cannot aggregate APIs`);
  }
  const usernameHeaders = jsonList(data, "requestheader-username-headers");
  return {
    ca,
    allowedNames: jsonList(data, "requestheader-allowed-names"),
    usernameHeaders: usernameHeaders.length > 0 ? usernameHeaders : ["X-Remote-User"],
    groupHeaders: jsonList(data, "requestheader-group-headers"),
    extraHeaderPrefixes: jsonList(data, "requestheader-extra-headers-prefix"),
    uidHeaders: jsonList(data, "requestheader-uid-headers"),
  };
}

export interface UserInfo {
  user: string;
  groups: string[];
  extra: Record<string, string[]>;
  uid?: string;
}

function headerValues(headers: IncomingHttpHeaders, name: string): string[] {
  const value = headers[name.toLowerCase()];
  if (value === undefined) return [];
  // Node joins repeated headers with ", "; user names and groups never contain that sequence in practice, and the
  // aggregator sends one header per group.
  return (Array.isArray(value) ? value : value.split(", ")).filter((v) => v !== "");
}

/**
 * The user the aggregator vouches for, or undefined when no user header is set. Call only for a request whose client
 * certificate was checked (see `allowedClient`).
 */
export function userFromHeaders(headers: IncomingHttpHeaders, config: RequestHeaderConfig): UserInfo | undefined {
  const user = config.usernameHeaders.map((h) => headerValues(headers, h)[0]).find((v) => v !== undefined);
  if (!user) return undefined;
  const groups = config.groupHeaders.flatMap((h) => headerValues(headers, h));
  const extra: Record<string, string[]> = {};
  for (const prefix of config.extraHeaderPrefixes.map((p) => p.toLowerCase())) {
    for (const [name, value] of Object.entries(headers)) {
      if (!name.startsWith(prefix) || value === undefined) continue;
      const key = decodeURIComponent(name.slice(prefix.length));
      extra[key] = [...(extra[key] ?? []), ...(Array.isArray(value) ? value : value.split(", "))];
    }
  }
  const uid = config.uidHeaders.map((h) => headerValues(headers, h)[0]).find((v) => v !== undefined);
  // Every authenticated user is in system:authenticated, as Kubernetes' own authenticators make it; the aggregator
  // does not send it (its discovery requests come as system:kube-aggregator with no group at all), and RBAC's
  // discovery role is granted to that group.
  if (user !== ANONYMOUS && !groups.includes(AUTHENTICATED_GROUP)) groups.push(AUTHENTICATED_GROUP);
  return { user, groups, extra, ...(uid ? { uid } : {}) };
}

/** Whether a verified client certificate's common name is one the aggregator may use. */
export function allowedClient(commonName: string | undefined, config: RequestHeaderConfig): boolean {
  if (config.allowedNames.length === 0) return true;
  return commonName !== undefined && config.allowedNames.includes(commonName);
}

/**
 * The SubjectAccessReview for a request: a pod's metric is `get` on resource `pods`, subresource `<metric>`, named
 * as the request names the pod (`*` for a selector), in group custom.metrics.k8s.io, as kube-apiserver's request
 * parsing would see it; discovery is a non-resource `get` of its path.
 */
export function accessReview(user: UserInfo, request: MetricsRequest, path: string): unknown {
  const attributes =
    request.kind === "values"
      ? {
          resourceAttributes: {
            namespace: request.namespace,
            verb: "get",
            group: CUSTOM_METRICS_GROUP,
            version: CUSTOM_METRICS_VERSION,
            resource: "pods",
            subresource: request.metric.name,
            name: request.pod,
          },
        }
      : { nonResourceAttributes: { path, verb: "get" } };
  return {
    apiVersion: "authorization.k8s.io/v1",
    kind: "SubjectAccessReview",
    spec: { user: user.user, groups: user.groups, extra: user.extra, ...(user.uid ? { uid: user.uid } : {}), ...attributes },
  };
}
