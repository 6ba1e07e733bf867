// A container's environment as Kubernetes defines it: literal values with $(VAR) references to
// earlier variables, downward-API fields of the pod, Secret and ConfigMap keys, whole Secrets and
// ConfigMaps through envFrom, plus the service variables a kubelet always injects. Missing
// references that are not optional fail the start with CreateContainerConfigError, as upstream.
import type { V1Container, V1Pod } from "@kubernetes/client-node";
import type { ApiClient } from "./api-client.js";

export class ContainerConfigError extends Error {
  readonly code = "container_config";
  readonly reason = "CreateContainerConfigError";
  constructor(message: string) {
    super(message);
    this.name = "ContainerConfigError";
  }
}

interface DataObject {
  data?: Record<string, string>;
  binaryData?: Record<string, string>;
}

/** Reads Secrets and ConfigMaps of one namespace, decoding Secret data. */
export class ObjectReader {
  constructor(
    private readonly api: ApiClient,
    private readonly namespace: string,
  ) {}

  async secret(name: string, optional = false): Promise<Record<string, Buffer> | undefined> {
    const secret = await this.api.find<DataObject>(`/api/v1/namespaces/${this.namespace}/secrets/${name}`);
    if (!secret) return this.missing("secret", name, optional);
    return Object.fromEntries(Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64")]));
  }

  async configMap(name: string, optional = false): Promise<Record<string, Buffer> | undefined> {
    const map = await this.api.find<DataObject>(`/api/v1/namespaces/${this.namespace}/configmaps/${name}`);
    if (!map) return this.missing("configmap", name, optional);
    return {
      ...Object.fromEntries(Object.entries(map.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "utf8")])),
      ...Object.fromEntries(Object.entries(map.binaryData ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64")])),
    };
  }

  private missing(kind: string, name: string, optional: boolean): undefined {
    if (optional) return undefined;
    throw new ContainerConfigError(`${kind} "${name}" not found`);
  }
}

/** The value of a downward-API field path such as `status.podIP` or `metadata.labels['app']`. */
export function fieldValue(pod: V1Pod, podIp: string, fieldPath: string): string {
  const keyed = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(fieldPath);
  if (keyed) {
    const source = keyed[1] === "labels" ? pod.metadata?.labels : pod.metadata?.annotations;
    return source?.[keyed[2] ?? ""] ?? "";
  }
  const values: Record<string, string | undefined> = {
    "metadata.name": pod.metadata?.name,
    "metadata.namespace": pod.metadata?.namespace,
    "metadata.uid": pod.metadata?.uid,
    "spec.nodeName": pod.spec?.nodeName,
    "spec.serviceAccountName": pod.spec?.serviceAccountName,
    "status.podIP": podIp,
    "status.podIPs": podIp,
    "status.hostIP": "127.0.0.1",
    "status.hostIPs": "127.0.0.1",
  };
  if (!(fieldPath in values)) throw new ContainerConfigError(`unsupported downward-API field "${fieldPath}"`);
  return values[fieldPath] ?? "";
}

/** Kubernetes' $(VAR) expansion: `$$` escapes, unknown references stay as written. */
export function expand(text: string, vars: Record<string, string>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (match, name?: string) => {
    if (match === "$$") return "$";
    return name !== undefined && name in vars ? (vars[name] ?? "") : match;
  });
}

export interface EnvironmentInputs {
  pod: V1Pod;
  container: V1Container;
  podIp: string;
  reader: ObjectReader;
  /** Variables the kubelet adds (KUBERNETES_SERVICE_HOST, KUBECONFIG, ...). */
  injected: Record<string, string>;
}

/** Builds the container's variables in Kubernetes' order: injected, envFrom, then env. */
export async function containerEnvironment(inputs: EnvironmentInputs): Promise<Record<string, string>> {
  const { pod, container, podIp, reader } = inputs;
  const vars: Record<string, string> = { ...inputs.injected };
  for (const source of container.envFrom ?? []) {
    const prefix = source.prefix ?? "";
    const data = source.configMapRef
      ? await reader.configMap(source.configMapRef.name ?? "", source.configMapRef.optional ?? false)
      : source.secretRef
        ? await reader.secret(source.secretRef.name ?? "", source.secretRef.optional ?? false)
        : undefined;
    for (const [key, value] of Object.entries(data ?? {})) vars[prefix + key] = value.toString("utf8");
  }
  for (const variable of container.env ?? []) {
    const from = variable.valueFrom;
    if (!from) {
      vars[variable.name] = expand(variable.value ?? "", vars);
    } else if (from.fieldRef) {
      vars[variable.name] = fieldValue(pod, podIp, from.fieldRef.fieldPath);
    } else if (from.resourceFieldRef) {
      vars[variable.name] = resourceValue(container, from.resourceFieldRef.resource);
    } else if (from.secretKeyRef) {
      const ref = from.secretKeyRef;
      const value = (await reader.secret(ref.name ?? "", ref.optional ?? false))?.[ref.key];
      if (value === undefined && !ref.optional) throw new ContainerConfigError(`couldn't find key ${ref.key} in Secret ${pod.metadata?.namespace}/${ref.name}`);
      if (value !== undefined) vars[variable.name] = value.toString("utf8");
    } else if (from.configMapKeyRef) {
      const ref = from.configMapKeyRef;
      const value = (await reader.configMap(ref.name ?? "", ref.optional ?? false))?.[ref.key];
      if (value === undefined && !ref.optional) throw new ContainerConfigError(`couldn't find key ${ref.key} in ConfigMap ${pod.metadata?.namespace}/${ref.name}`);
      if (value !== undefined) vars[variable.name] = value.toString("utf8");
    }
  }
  return vars;
}

// Limits are what resourceFieldRef reports; without one, upstream reports the node's allocatable,
// which for this harness is the advertised capacity.
function resourceValue(container: V1Container, resource: string): string {
  const [kind, name] = resource.split(".");
  const source = kind === "requests" ? container.resources?.requests : container.resources?.limits;
  const value = name ? source?.[name] : undefined;
  return value === undefined ? "0" : String(value);
}
