// Runs one pod bound to the process kubelet's Node, from acceptance to final deletion: resolves its
// images, sets up its volumes and service-account credentials, runs init containers in order and
// then the containers as process groups, restarts them per restartPolicy with a back-off, probes
// them, and writes the pod's status (phase, conditions, container states, pod IP) back whenever it
// changes. Deleting the pod sends SIGTERM to every container, SIGKILL after the grace period, and
// then removes the pod object, as a kubelet does. The loop is level-triggered: every pass looks at
// the newest pod object and the processes' real state, so events only make it run sooner.
import { mkdirSync, rmSync, writeFileSync, existsSync, statSync } from "node:fs";
import { createServer } from "node:net";
import { constants } from "node:os";
import { join } from "node:path";
import type { V1Container, V1Pod } from "@kubernetes/client-node";
import { ApiError, type ApiClient } from "./api-client.js";
import { resolveImage } from "./images.js";
import { writeKubeconfig } from "./kubeconfig.js";
import { ContainerConfigError, ObjectReader, containerEnvironment, expand } from "./pod-environment.js";
import { PodVolumes, VolumeNotReadyError, type MountTable } from "./pod-volumes.js";
import { Prober, runToCompletion } from "./probes.js";
import type { ProcessGroup, ProcessSupervisor } from "./processes.js";

export const DEFAULT_POD_RUNNER = {
  syncIntervalMs: 1_000,
  volumeRefreshMs: 2_000,
  /** Restart back-off starts at 1 s and doubles to 20 s: shorter than upstream (10 s to 5 min) so tests of crash loops stay quick. */
  backoffInitialMs: 1_000,
  backoffMaxMs: 20_000,
  defaultGracePeriodSeconds: 30,
  /** Lifetime asked of the TokenRequest API for the pod's kubeconfig; refreshed at 80 %. */
  tokenLifetimeSeconds: 3_600,
  /** Grace given to containers of a pod that vanished from the API without a graceful delete. */
  vanishedGracePeriodMs: 2_000,
};

export interface KubeletContext {
  api: ApiClient;
  nodeName: string;
  stateDir: string;
  server: string;
  caPem: string;
  supervisor: ProcessSupervisor;
}

type ContainerState =
  | { waiting: { reason: string; message?: string } }
  | { running: { startedAt: string } }
  | { terminated: { exitCode: number; signal?: number; reason: string; startedAt: string; finishedAt: string; containerID?: string } };

interface Container {
  spec: V1Container;
  init: boolean;
  group?: ProcessGroup;
  state: ContainerState;
  lastState?: ContainerState;
  restartCount: number;
  started: boolean;
  ready: boolean;
  probers: Prober[];
  notBeforeMs: number;
  /** Set once the container finished and its restart policy says it stays finished. */
  finished: boolean;
  /** Whether a process was ever started for it; every later start counts as a restart. */
  hasRun: boolean;
}

/** The container's declared TCP ports that something already listens on at the pod IP. */
async function busyPorts(ip: string, container: V1Container): Promise<number[]> {
  const ports = (container.ports ?? []).filter((p) => (p.protocol ?? "TCP") === "TCP").map((p) => p.containerPort);
  const busy: number[] = [];
  for (const port of ports) {
    const free = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once("error", () => resolve(false));
      server.listen(port, ip, () => server.close(() => resolve(true)));
    });
    if (!free) busy.push(port);
  }
  return busy;
}

const now = (): string => new Date().toISOString().replace(/\.\d+Z$/, "Z");

export class PodRunner {
  private readonly containers: Container[];
  private readonly podDir: string;
  private readonly reader: ObjectReader;
  private volumes: PodVolumes | undefined;
  private lastVolumeRefreshMs = 0;
  private readonly tokens = new Map<string, { token: string; refreshAtMs: number }>();
  private startTime: string | undefined;
  private writtenToken: string | undefined;
  private lastStatusJson = "";
  private wakeUp: (() => void) | undefined;
  private vanished = false;
  private stopped = false;
  readonly done: Promise<void>;

  constructor(
    private readonly context: KubeletContext,
    private pod: V1Pod,
    readonly podIp: string,
  ) {
    const meta = pod.metadata ?? {};
    this.podDir = join(context.stateDir, "pods", `${meta.namespace}_${meta.name}_${meta.uid}`);
    mkdirSync(join(this.podDir, "logs"), { recursive: true });
    this.reader = new ObjectReader(context.api, meta.namespace ?? "default");
    const make = (spec: V1Container, init: boolean): Container => ({
      spec,
      init,
      state: { waiting: { reason: init ? "PodInitializing" : "ContainerCreating" } },
      restartCount: 0,
      started: false,
      ready: false,
      probers: [],
      notBeforeMs: 0,
      finished: false,
      hasRun: false,
    });
    this.containers = [
      ...(pod.spec?.initContainers ?? []).map((c) => make(c, true)),
      ...(pod.spec?.containers ?? []).map((c) => make(c, false)),
    ];
    this.done = this.loop();
  }

  get uid(): string {
    return this.pod.metadata?.uid ?? "";
  }

  /** A newer version of the pod object, from the kubelet's watch. */
  update(pod: V1Pod): void {
    this.pod = pod;
    this.wake();
  }

  /** The pod is gone from the API (force deletion): stop its processes without a status. */
  vanish(): void {
    this.vanished = true;
    this.wake();
  }

  /** Harness shutdown: kill the pod's processes now, leave the API alone. */
  async kill(): Promise<void> {
    this.stopped = true;
    this.wake();
    await Promise.all(this.containers.map((c) => this.stopContainer(c, 0)));
  }

  private wake(): void {
    this.wakeUp?.();
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      try {
        if (await this.sync()) break;
      } catch (err) {
        if (err instanceof ApiError && err.statusCode === 404) this.vanished = true;
        else this.log(`sync failed: ${err instanceof Error ? err.message : String(err)}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, DEFAULT_POD_RUNNER.syncIntervalMs);
        this.wakeUp = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wakeUp = undefined;
    }
  }

  /** One level-triggered pass; answers true when the pod is finished with. */
  private async sync(): Promise<boolean> {
    if (this.vanished) {
      await Promise.all(this.containers.map((c) => this.stopContainer(c, DEFAULT_POD_RUNNER.vanishedGracePeriodMs)));
      this.cleanUp();
      return true;
    }
    if (this.pod.metadata?.deletionTimestamp) {
      await this.terminate();
      return true;
    }
    this.startTime ??= now();
    if (!(await this.setUp())) {
      await this.writeStatus();
      return false;
    }
    if (Date.now() - this.lastVolumeRefreshMs > DEFAULT_POD_RUNNER.volumeRefreshMs) {
      await this.volumes?.refresh();
      this.writeServiceAccountFiles(await this.serviceAccountToken());
      this.lastVolumeRefreshMs = Date.now();
    }
    const initDone = await this.runInitContainers();
    if (initDone) {
      for (const c of this.containers.filter((x) => !x.init)) await this.runContainer(c);
    }
    await this.writeStatus();
    return false;
  }

  private async setUp(): Promise<boolean> {
    if (this.volumes) return true;
    for (const c of this.containers) {
      const image = resolveImage(c.spec);
      if (!image.ok) {
        c.state = { waiting: { reason: image.reason, message: image.message } };
        return false;
      }
    }
    const volumes = new PodVolumes({
      pod: this.pod,
      podIp: this.podIp,
      podDir: this.podDir,
      api: this.context.api,
      reader: this.reader,
      caPem: this.context.caPem,
      token: (audience, seconds) => this.token(audience, seconds),
    });
    try {
      await volumes.setUp();
      this.writeServiceAccountFiles(await this.serviceAccountToken());
    } catch (err) {
      if (err instanceof VolumeNotReadyError || err instanceof ContainerConfigError) {
        const reason = err instanceof ContainerConfigError ? err.reason : "ContainerCreating";
        for (const c of this.containers) c.state = { waiting: { reason, message: err.message } };
        return false;
      }
      throw err;
    }
    this.volumes = volumes;
    this.lastVolumeRefreshMs = Date.now();
    for (const c of this.containers) c.state = { waiting: { reason: c.init ? "PodInitializing" : "ContainerCreating" } };
    return true;
  }

  private get restartPolicy(): string {
    return this.pod.spec?.restartPolicy ?? "Always";
  }

  /** Runs init containers one after another; answers true once all have succeeded. */
  private async runInitContainers(): Promise<boolean> {
    for (const c of this.containers.filter((x) => x.init)) {
      if (c.finished && "terminated" in c.state && c.state.terminated.exitCode === 0) continue;
      if (c.finished) return false;
      if (!c.group) await this.runContainer(c);
      return false;
    }
    return true;
  }

  private async runContainer(c: Container): Promise<void> {
    if (c.group || c.finished || Date.now() < c.notBeforeMs) return;
    await this.startContainer(c);
  }

  private async startContainer(c: Container): Promise<void> {
    const image = resolveImage(c.spec);
    if (!image.ok || !this.volumes) return;
    let env: Record<string, string>;
    let mounts: MountTable;
    const injected = this.injectedEnvironment();
    try {
      mounts = this.volumes.mountTable(c.spec.volumeMounts ?? []);
      env = await containerEnvironment({
        pod: this.pod,
        container: c.spec,
        podIp: this.podIp,
        reader: this.reader,
        injected,
      });
    } catch (err) {
      if (!(err instanceof ContainerConfigError)) throw err;
      c.state = { waiting: { reason: err.reason, message: err.message } };
      c.notBeforeMs = Date.now() + DEFAULT_POD_RUNNER.backoffInitialMs;
      return;
    }
    // Only what the pod spec says is rewritten: the kubelet's own values (KUBECONFIG, say) are host paths already.
    for (const key of Object.keys(env)) if (env[key] !== injected[key]) env[key] = mounts.translate(env[key] ?? "");
    const argv = image.argv.map((arg) => mounts.translate(expand(arg, env)));
    const workingDir = c.spec.workingDir ? mounts.translate(c.spec.workingDir) : this.podDir;
    const cwd = existsSync(workingDir) && statSync(workingDir).isDirectory() ? workingDir : this.podDir;
    // Pods share the host's network stack, so a port still held on this pod IP (by a process that
    // should be gone) would make the container fail, or worse, a stranger answer its probes.
    const busy = await busyPorts(this.podIp, c.spec);
    if (busy.length) {
      c.state = { waiting: { reason: "RunContainerError", message: `${busy.map((p) => `${this.podIp}:${p}`).join(", ")} already in use on the host` } };
      c.notBeforeMs = Date.now() + DEFAULT_POD_RUNNER.backoffInitialMs;
      this.log(`not starting ${c.spec.name}: ${c.state.waiting.message}`);
      return;
    }
    const group = this.context.supervisor.start({
      name: `${this.pod.metadata?.name}/${c.spec.name}`,
      command: image.executable,
      args: argv,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: this.podDir, ...env },
      cwd,
      logFile: join(this.podDir, "logs", `${c.spec.name}.log`),
    });
    const startedAt = now();
    if (c.hasRun) c.restartCount += 1;
    c.hasRun = true;
    c.group = group;
    c.state = { running: { startedAt } };
    c.ready = false;
    c.started = !c.spec.startupProbe;
    this.startProbers(c, env, cwd);
    void group.exited.then((exit) => this.onExit(c, group, startedAt, exit.code, exit.signal));
  }

  private injectedEnvironment(): Record<string, string> {
    const url = new URL(this.context.server);
    const env: Record<string, string> = {
      HOSTNAME: this.pod.spec?.hostname ?? this.pod.metadata?.name ?? "",
      KUBERNETES_SERVICE_HOST: url.hostname,
      KUBERNETES_SERVICE_PORT: url.port,
      KUBERNETES_SERVICE_PORT_HTTPS: url.port,
    };
    if (this.mountsServiceAccount()) env.KUBECONFIG = join(this.podDir, "serviceaccount", "kubeconfig");
    return env;
  }

  private startProbers(c: Container, env: Record<string, string>, cwd: string): void {
    const target = {
      podIp: this.podIp,
      container: c.spec,
      exec: (command: string[], timeoutMs: number) => {
        const resolved = resolveImage({ image: c.spec.image, command });
        if (!resolved.ok) return Promise.resolve(false);
        return runToCompletion(resolved.executable, resolved.argv, { PATH: process.env.PATH, ...env }, cwd, timeoutMs);
      },
    };
    const readiness = (): void => {
      if (c.spec.readinessProbe) {
        const prober = new Prober(c.spec.readinessProbe, target, (result) => {
          c.ready = result === "success";
          this.wake();
        });
        c.probers.push(prober);
        prober.start();
      } else {
        c.ready = true;
      }
      if (c.spec.livenessProbe) {
        const prober = new Prober(c.spec.livenessProbe, target, (result) => {
          if (result === "failure") {
            this.log(`container ${c.spec.name} failed its liveness probe; restarting it`);
            void this.stopContainer(c, this.gracePeriodMs(c.spec.livenessProbe?.terminationGracePeriodSeconds));
          }
        });
        c.probers.push(prober);
        prober.start();
      }
    };
    if (c.init) return;
    if (c.spec.startupProbe) {
      const prober = new Prober(c.spec.startupProbe, target, (result) => {
        prober.stop();
        if (result === "success") {
          c.started = true;
          readiness();
        } else {
          void this.stopContainer(c, this.gracePeriodMs(c.spec.startupProbe?.terminationGracePeriodSeconds));
        }
        this.wake();
      });
      c.probers.push(prober);
      prober.start();
    } else {
      readiness();
    }
  }

  private onExit(c: Container, group: ProcessGroup, startedAt: string, code: number | null, signal: NodeJS.Signals | null): void {
    if (c.group !== group) return;
    for (const prober of c.probers) prober.stop();
    c.probers = [];
    c.group = undefined;
    c.ready = false;
    const signo = signal ? constants.signals[signal] : undefined;
    const exitCode = code ?? 128 + (signo ?? 0);
    const terminated: ContainerState = {
      terminated: {
        exitCode,
        ...(signo ? { signal: signo } : {}),
        reason: exitCode === 0 ? "Completed" : "Error",
        startedAt,
        finishedAt: now(),
        containerID: `process://${group.pid}`,
      },
    };
    const policy = this.restartPolicy;
    const restart = !this.pod.metadata?.deletionTimestamp && !this.stopped &&
      (c.init ? exitCode !== 0 && policy !== "Never" : policy === "Always" || (policy === "OnFailure" && exitCode !== 0));
    if (restart) {
      const delay = Math.min(DEFAULT_POD_RUNNER.backoffMaxMs, DEFAULT_POD_RUNNER.backoffInitialMs * 2 ** Math.min(c.restartCount, 10));
      c.lastState = terminated;
      c.state = { waiting: { reason: "CrashLoopBackOff", message: `back-off ${Math.round(delay / 1000)}s restarting failed container=${c.spec.name} pod=${this.pod.metadata?.name}` } };
      c.notBeforeMs = Date.now() + delay;
    } else {
      c.state = terminated;
      c.finished = true;
    }
    this.log(`container ${c.spec.name} exited with ${exitCode}${restart ? "; restarting" : ""}`);
    this.wake();
  }

  private gracePeriodMs(override?: number): number {
    const seconds = override ?? this.pod.metadata?.deletionGracePeriodSeconds ?? this.pod.spec?.terminationGracePeriodSeconds ?? DEFAULT_POD_RUNNER.defaultGracePeriodSeconds;
    return seconds * 1000;
  }

  private async stopContainer(c: Container, gracePeriodMs: number): Promise<void> {
    for (const prober of c.probers) prober.stop();
    const group = c.group;
    if (group) await group.stop(gracePeriodMs);
  }

  /** Graceful deletion: stop all containers within the grace period, report, remove the pod. */
  private async terminate(): Promise<void> {
    const graceMs = this.gracePeriodMs();
    for (const c of this.containers) c.notBeforeMs = Number.MAX_SAFE_INTEGER;
    await Promise.all(this.containers.map((c) => this.stopContainer(c, graceMs)));
    for (const c of this.containers) {
      if ("waiting" in c.state) c.state = { terminated: { exitCode: 0, reason: "Completed", startedAt: now(), finishedAt: now() } };
    }
    try {
      await this.writeStatus();
      const { namespace, name, uid } = this.pod.metadata ?? {};
      await this.context.api.delete(`/api/v1/namespaces/${namespace}/pods/${name}`, {
        apiVersion: "v1",
        kind: "DeleteOptions",
        gracePeriodSeconds: 0,
        preconditions: { uid },
      });
    } catch (err) {
      if (!(err instanceof ApiError && (err.statusCode === 404 || err.statusCode === 409))) throw err;
    }
    this.cleanUp();
  }

  private cleanUp(): void {
    this.stopped = true;
    rmSync(this.podDir, { recursive: true, force: true });
  }

  // Service-account credentials: upstream mounts them into the container's filesystem, which a
  // process cannot have; they are written to <pod dir>/serviceaccount/ instead (token, ca.crt,
  // namespace, and a kubeconfig using them that KUBECONFIG points at).
  private mountsServiceAccount(): boolean {
    return this.pod.spec?.automountServiceAccountToken !== false;
  }

  private async serviceAccountToken(): Promise<string | undefined> {
    if (!this.mountsServiceAccount()) return undefined;
    return this.token(undefined, DEFAULT_POD_RUNNER.tokenLifetimeSeconds);
  }

  private writeServiceAccountFiles(token: string | undefined): void {
    if (token === undefined || token === this.writtenToken) return;
    this.writtenToken = token;
    const dir = join(this.podDir, "serviceaccount");
    mkdirSync(dir, { recursive: true });
    const namespace = this.pod.metadata?.namespace ?? "default";
    writeFileSync(join(dir, "token"), token, { mode: 0o600 });
    writeFileSync(join(dir, "ca.crt"), this.context.caPem);
    writeFileSync(join(dir, "namespace"), namespace);
    writeKubeconfig(join(dir, "kubeconfig"), this.context.server, this.context.caPem, {
      name: `system:serviceaccount:${namespace}:${this.pod.spec?.serviceAccountName ?? "default"}`,
      token,
      namespace,
    });
  }

  /** A token for the pod's ServiceAccount, bound to the pod, cached until 80 % of its lifetime. */
  private async token(audience: string | undefined, expirationSeconds: number): Promise<string> {
    const key = `${audience ?? ""}/${expirationSeconds}`;
    const cached = this.tokens.get(key);
    if (cached && Date.now() < cached.refreshAtMs) return cached.token;
    const { namespace, name, uid } = this.pod.metadata ?? {};
    const account = this.pod.spec?.serviceAccountName ?? "default";
    const answer = await this.context.api.post<{ status: { token: string } }>(
      `/api/v1/namespaces/${namespace}/serviceaccounts/${account}/token`,
      {
        apiVersion: "authentication.k8s.io/v1",
        kind: "TokenRequest",
        spec: {
          audiences: audience ? [audience] : [],
          expirationSeconds,
          boundObjectRef: { apiVersion: "v1", kind: "Pod", name, uid },
        },
      },
    );
    this.tokens.set(key, { token: answer.status.token, refreshAtMs: Date.now() + expirationSeconds * 800 });
    return answer.status.token;
  }

  private async writeStatus(): Promise<void> {
    const status = this.status();
    const json = JSON.stringify(status);
    if (json === this.lastStatusJson) return;
    const { namespace, name } = this.pod.metadata ?? {};
    await this.context.api.patch(`/api/v1/namespaces/${namespace}/pods/${name}/status`, { status }, "merge");
    this.lastStatusJson = json;
  }

  private status(): Record<string, unknown> {
    const main = this.containers.filter((c) => !c.init);
    const inits = this.containers.filter((c) => c.init);
    const initialized = inits.every((c) => c.finished && "terminated" in c.state && c.state.terminated.exitCode === 0);
    const allFinished = main.every((c) => c.finished);
    const anyFailed = [...main, ...inits].some((c) => c.finished && "terminated" in c.state && c.state.terminated.exitCode !== 0);
    const initFailedForGood = inits.some((c) => c.finished && "terminated" in c.state && c.state.terminated.exitCode !== 0);
    const anyStarted = main.some((c) => !("waiting" in c.state) || c.restartCount > 0 || c.lastState);
    const phase = initFailedForGood || (allFinished && anyFailed) ? "Failed" : allFinished ? "Succeeded" : anyStarted ? "Running" : "Pending";
    const containersReady = main.every((c) => c.ready);
    const unready = main.filter((c) => !c.ready).map((c) => c.spec.name);
    const conditions = this.conditions([
      { type: "PodReadyToStartContainers", status: this.volumes !== undefined },
      { type: "Initialized", status: initialized, reason: "ContainersNotInitialized" },
      { type: "ContainersReady", status: containersReady, reason: "ContainersNotReady", message: `containers with unready status: [${unready.join(" ")}]` },
      { type: "Ready", status: containersReady && phase === "Running", reason: "ContainersNotReady", message: `containers with unready status: [${unready.join(" ")}]` },
    ]);
    const containerStatus = (c: Container): Record<string, unknown> => ({
      name: c.spec.name,
      image: c.spec.image,
      imageID: "",
      ready: c.ready,
      started: "running" in c.state ? c.started : false,
      restartCount: c.restartCount,
      state: c.state,
      lastState: c.lastState ?? {},
      ...(c.group ? { containerID: `process://${c.group.pid}` } : {}),
    });
    return {
      phase,
      conditions,
      hostIP: "127.0.0.1",
      hostIPs: [{ ip: "127.0.0.1" }],
      podIP: this.podIp,
      podIPs: [{ ip: this.podIp }],
      startTime: this.startTime,
      containerStatuses: main.map(containerStatus),
      ...(inits.length ? { initContainerStatuses: inits.map(containerStatus) } : {}),
    };
  }

  // Conditions keep their lastTransitionTime while their status holds; conditions this kubelet does
  // not own (PodScheduled, readiness gates) are carried over from the API object unchanged.
  private conditions(wanted: { type: string; status: boolean; reason?: string; message?: string }[]): object[] {
    // A watched pod's times may be strings rather than the Dates its type names; either serializes the same.
    const existing = this.pod.status?.conditions ?? [];
    const owned = new Set(wanted.map((w) => w.type));
    const kept = existing.filter((c) => !owned.has(c.type));
    return [
      ...kept,
      ...wanted.map((w) => {
        const status = w.status ? "True" : "False";
        const before = existing.find((c) => c.type === w.type);
        const lastTransitionTime = before && before.status === status && before.lastTransitionTime ? before.lastTransitionTime : now();
        return {
          type: w.type,
          status,
          lastProbeTime: null,
          lastTransitionTime,
          ...(w.status || !w.reason ? {} : { reason: w.reason, message: w.message ?? "" }),
        };
      }),
    ];
  }

  private log(message: string): void {
    const { namespace, name } = this.pod.metadata ?? {};
    console.error(`[process-kubelet] pod ${namespace}/${name}: ${message}`);
  }
}
