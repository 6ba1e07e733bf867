/**
 * `kubectl dynamo report NAME`: a support bundle, one .tar.gz with everything someone helping you needs: the
 * DynamoCluster and every object the operator made for it, the pods and claims, the Events, each node's own views
 * (`/v1/node`, `/v1/cluster`, `/metrics`), the pods' recent logs, and the status screen as text. Secrets are never
 * included as they are: every value of a Secret is replaced by its length, and so is any environment value whose name
 * suggests a credential.
 */
import { writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { stringify } from "yaml";
import { objectPath } from "../operator/kube/api-client.js";
import { objectNames, selectorString } from "../operator/resources/index.js";
import { style } from "../lib/terminal.js";
import { gatherStatus } from "./model.js";
import { renderStatus } from "./render.js";
import type { Session } from "./session.js";

export const DEFAULT_REPORT = {
  logTailLines: 2000,
  /** Environment variable names whose values are withheld. */
  sensitiveName: /token|secret|password|passwd|credential|key/i,
};

export interface ReportResult {
  path: string;
  files: string[];
  problems: string[];
}

export async function writeReport(session: Session, name: string, path: string): Promise<ReportResult> {
  const files = new Map<string, string>();
  const problems: string[] = [];
  const ns = session.namespace;
  const attempt = async (label: string, fn: () => Promise<unknown>) => {
    try {
      await fn();
    } catch (err) {
      problems.push(`${label}: ${(err as Error).message}`);
    }
  };

  const model = await gatherStatus(session, name, { eventsMax: 1000 });
  files.set("status.txt", renderStatus(model, style(false)));
  files.set("dynamocluster.yaml", stringify(redact(await session.api.get(session.clusterPath(name)))));
  const names = objectNames(name);
  const owned: [string, string, string][] = [
    ["apps/v1", "statefulsets", names.statefulSet],
    ["v1", "services", names.clientService],
    ["v1", "services", names.peerService],
    ["v1", "configmaps", names.configMap],
    ["v1", "secrets", names.secret],
    ["policy/v1", "poddisruptionbudgets", names.podDisruptionBudget],
    // Certificates and the network: the Secrets redacted like the token (their annotations tell a CA rotation's step).
    ["v1", "configmaps", names.caConfigMap],
    ["v1", "secrets", names.caSecret],
    ["v1", "secrets", names.peerTlsSecret],
    ["v1", "secrets", names.clientTlsSecret],
    ["networking.k8s.io/v1", "networkpolicies", names.networkPolicy],
  ];
  for (const [apiVersion, plural, objectName] of owned) {
    await attempt(`${plural}/${objectName}`, async () => {
      const object = await session.api.find(objectPath(apiVersion, plural, ns, objectName));
      if (object) files.set(`objects/${plural}-${objectName}.yaml`, stringify(redact(object)));
    });
  }
  const selector = `?labelSelector=${encodeURIComponent(selectorString(name))}`;
  await attempt("pods", async () => files.set("objects/pods.yaml", stringify(redact(await session.api.get(objectPath("v1", "pods", ns) + selector)))));
  await attempt("claims", async () => files.set("objects/persistentvolumeclaims.yaml", stringify(redact(await session.api.get(objectPath("v1", "persistentvolumeclaims", ns) + selector)))));
  files.set("events.yaml", stringify(model.events));

  for (const pod of model.pods) {
    const pName = pod.metadata.name;
    await attempt(`logs of ${pName}`, async () => files.set(`logs/${pName}.log`, await session.logs(pName, DEFAULT_REPORT.logTailLines)));
    if (pod.status?.phase !== "Running") continue;
    for (const [file, path] of [["node.json", "/v1/node"], ["cluster.json", "/v1/cluster"], ["metrics.txt", "/metrics"]] as const) {
      await attempt(`${path} of ${pName}`, async () => {
        const text = await session.nodeText(pod, path);
        files.set(`nodes/${pName}/${file}`, file.endsWith(".json") ? JSON.stringify(JSON.parse(text), null, 2) + "\n" : text);
      });
    }
  }
  if (problems.length > 0) files.set("problems.txt", problems.join("\n") + "\n");
  const root = path.replace(/^.*\//, "").replace(/\.tar\.gz$|\.tgz$/, "");
  const entries = [...files].map(([file, content]) => ({ name: `${root}/${file}`, content: Buffer.from(content) }));
  writeFileSync(path, gzipSync(tar(entries)), { mode: 0o600 });
  return { path, files: [...files.keys()], problems };
}

/** A copy of a Kubernetes object (or list) with every Secret value and every credential-like env value withheld. */
export function redact(object: unknown): unknown {
  const copy = JSON.parse(JSON.stringify(object)) as Record<string, unknown>;
  walk(copy);
  return copy;
}

function walk(node: unknown): void {
  if (Array.isArray(node)) {
    for (const item of node) walk(item);
    return;
  }
  if (!node || typeof node !== "object") return;
  const object = node as Record<string, unknown>;
  if (object.kind === "Secret") {
    for (const field of ["data", "stringData"]) {
      const values = object[field] as Record<string, string> | undefined;
      if (values) for (const key of Object.keys(values)) values[key] = `REDACTED (${values[key]!.length} characters)`;
    }
  }
  const metadata = object.metadata as { annotations?: Record<string, string> } | undefined;
  // kubectl apply keeps a whole copy of the object in this annotation, Secret values included.
  if (metadata?.annotations?.["kubectl.kubernetes.io/last-applied-configuration"]) metadata.annotations["kubectl.kubernetes.io/last-applied-configuration"] = "REDACTED";
  if (typeof object.name === "string" && typeof object.value === "string" && DEFAULT_REPORT.sensitiveName.test(object.name) && !/_FILE$/.test(object.name)) {
    object.value = `REDACTED (${object.value.length} characters)`;
  }
  for (const value of Object.values(object)) walk(value);
}

/** A ustar archive of regular files (mode 0600), enough for `tar xzf` everywhere. */
export function tar(entries: { name: string; content: Buffer }[]): Buffer {
  const blocks: Buffer[] = [];
  const mtime = Math.floor(Date.now() / 1000);
  for (const { name, content } of entries) {
    const header = Buffer.alloc(512);
    const [prefix, base] = name.length > 100 ? [name.slice(0, name.lastIndexOf("/", 155)), name.slice(name.lastIndexOf("/", 155) + 1)] : ["", name];
    header.write(base, 0, 100, "utf8");
    header.write("0000600\0", 100);
    header.write("0000000\0", 108);
    header.write("0000000\0", 116);
    header.write(content.length.toString(8).padStart(11, "0") + "\0", 124);
    header.write(mtime.toString(8).padStart(11, "0") + "\0", 136);
    header.write("        ", 148);
    header.write("0", 156);
    header.write("ustar\0", 257);
    header.write("00", 263);
    header.write(prefix, 345, 155, "utf8");
    let sum = 0;
    for (const byte of header) sum += byte;
    header.write(sum.toString(8).padStart(6, "0") + "\0 ", 148);
    blocks.push(header, content, Buffer.alloc((512 - (content.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}
