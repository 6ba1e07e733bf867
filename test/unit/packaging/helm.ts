/**
 * Runs the pinned helm binary from the Kubernetes toolchain cache against the chart in charts/dynamo-operator, and
 * parses what it renders. The chart tests use the same helm the Kubernetes test layer installs the chart with, so a
 * chart that renders here renders there. When the toolchain is not built every call throws an error that says how to
 * build it: the chart tests then fail loudly instead of passing without having run.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import { toolchainBinDir } from "../../k8s/harness/toolchain.js";

export const CHART_DIR = fileURLToPath(new URL("../../../charts/dynamo-operator/", import.meta.url));

export const DEFAULT_RENDER = {
  releaseName: "dynamo-operator",
  namespace: "dynamo-system",
  /** The local control plane's version (test/k8s/toolchain/build.sh); the chart declares kubeVersion >= 1.29. */
  kubeVersion: "v1.36.3",
  timeoutMs: 30_000,
};

export interface HelmResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** A rendered Kubernetes object; the tests read the few fields they check through this loose shape. */
export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  // Rendered manifests are arbitrary nested YAML; tests index into them and assert on what they find.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  [field: string]: any;
};

let helmPath: string | undefined;

/** The helm binary, or an error naming the command that builds it. */
export function helmBinary(): string {
  if (helmPath) return helmPath;
  const notBuilt = (why: string) =>
    new Error(
      `helm is not built, so the chart cannot be checked: run \`npm run k8s:toolchain\` once (it builds helm into ` +
        `~/.cache/dynamo-k8s/<version>/bin/); if a build is already running, wait for it to finish. (${why})`,
    );
  let binDir: string;
  try {
    binDir = toolchainBinDir("helm");
  } catch (err) {
    throw notBuilt((err as Error).message);
  }
  const candidate = join(binDir, "helm");
  if (!existsSync(candidate)) throw notBuilt(`${candidate} does not exist`);
  helmPath = candidate;
  return helmPath;
}

/** helm's environment: HOME-based state goes to a throwaway directory so no user configuration leaks in. */
function helmEnv(home: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: home,
    HELM_CACHE_HOME: join(home, "cache"),
    HELM_CONFIG_HOME: join(home, "config"),
    HELM_DATA_HOME: join(home, "data"),
  };
}

/** Runs helm and waits for it, blocking; for rendering, which touches no cluster. */
export function runHelm(args: string[]): HelmResult {
  const home = mkdtempSync(join(tmpdir(), "dynamo-helm-"));
  try {
    const result = spawnSync(helmBinary(), args, { encoding: "utf8", timeout: DEFAULT_RENDER.timeoutMs, env: helmEnv(home) });
    if (result.error) throw result.error;
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

/**
 * Runs helm without blocking the event loop, for commands against a cluster: the Kubernetes tests run the process
 * kubelet in the same process, and `helm install --wait` waits for pods that kubelet must start meanwhile.
 */
export function runHelmAsync(args: string[], timeoutMs: number): Promise<HelmResult> {
  const home = mkdtempSync(join(tmpdir(), "dynamo-helm-"));
  return new Promise<HelmResult>((resolve, reject) => {
    const child = spawn(helmBinary(), args, { env: helmEnv(home), stdio: ["ignore", "pipe", "pipe"], timeout: timeoutMs });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  }).finally(() => rmSync(home, { recursive: true, force: true }));
}

/** Writes values to a temporary file and passes it with -f, so tests give values as plain objects. */
function withValuesFile<T>(values: object, run: (args: string[]) => T): T {
  const dir = mkdtempSync(join(tmpdir(), "dynamo-values-"));
  try {
    const file = join(dir, "values.json");
    writeFileSync(file, JSON.stringify(values));
    return run(["-f", file]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function lintChart(values: object = {}): HelmResult {
  return withValuesFile(values, (valueArgs) => runHelm(["lint", CHART_DIR, "--strict", "--kube-version", DEFAULT_RENDER.kubeVersion, ...valueArgs]));
}

/** `helm template` with the given values; returns helm's raw result, for tests that expect a refusal. */
export function templateRaw(values: object = {}, extraArgs: string[] = []): HelmResult {
  return withValuesFile(values, (valueArgs) =>
    runHelm([
      "template",
      DEFAULT_RENDER.releaseName,
      CHART_DIR,
      "--namespace",
      DEFAULT_RENDER.namespace,
      "--kube-version",
      DEFAULT_RENDER.kubeVersion,
      ...valueArgs,
      ...extraArgs,
    ]),
  );
}

/** `helm template` that must succeed; returns the rendered text. */
export function templateText(values: object = {}, extraArgs: string[] = []): string {
  const result = templateRaw(values, extraArgs);
  if (result.status !== 0) throw new Error(`helm template failed (exit ${result.status}): ${result.stderr.trim()}`);
  return result.stdout;
}

/** Parses a multi-document manifest; `version` picks YAML 1.1 (how Go's YAML readers see it) or 1.2. */
export function parseManifests(text: string, version: "1.1" | "1.2" = "1.2"): K8sObject[] {
  return parseAllDocuments(text, { version })
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`rendered YAML does not parse: ${doc.errors[0]?.message}`);
      return doc.toJS() as K8sObject | null;
    })
    .filter((object): object is K8sObject => object !== null);
}

/** `helm template` that must succeed, parsed into objects. */
export function render(values: object = {}, extraArgs: string[] = []): K8sObject[] {
  return parseManifests(templateText(values, extraArgs));
}

export function findObject(objects: K8sObject[], kind: string, name?: string, namespace?: string): K8sObject {
  const found = objects.filter(
    (o) => o.kind === kind && (name === undefined || o.metadata.name === name) && (namespace === undefined || o.metadata.namespace === namespace),
  );
  if (found.length !== 1) {
    throw new Error(`expected one ${kind}${name ? ` ${name}` : ""}${namespace ? ` in ${namespace}` : ""}, found ${found.length}`);
  }
  return found[0] as K8sObject;
}
