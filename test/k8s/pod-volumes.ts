// Pod volumes as host directories. Without mount namespaces a process cannot see a directory at the
// path a volumeMount names, so every volume is a directory on the host and the kubelet rewrites
// paths: any mountPath appearing in a container's command, args, env values or workingDir is
// replaced by the host directory (MountTable). emptyDir lives in the pod's directory and goes with
// it; a PersistentVolumeClaim resolves to its bound PV's hostPath directory, which outlives pods and
// is removed with the PV; Secret, ConfigMap, downward-API and projected volumes (including the
// service-account token the API server adds to every pod) are written as files and refreshed while
// the pod runs, each file replaced through a rename so readers never see half a file.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { V1KeyToPath, V1Pod, V1Volume } from "@kubernetes/client-node";
import type { ApiClient } from "./api-client.js";
import { ContainerConfigError, fieldValue, type ObjectReader } from "./pod-environment.js";

/** A volume that cannot be set up yet (for example an unbound claim); the pod keeps waiting. */
export class VolumeNotReadyError extends Error {
  readonly code = "volume_not_ready";
  constructor(message: string) {
    super(message);
    this.name = "VolumeNotReadyError";
  }
}

export interface VolumeContext {
  pod: V1Pod;
  podIp: string;
  podDir: string;
  api: ApiClient;
  reader: ObjectReader;
  /** Answers a service-account token for the given audience and lifetime (TokenRequest API). */
  token(audience: string | undefined, expirationSeconds: number): Promise<string>;
  caPem: string;
}

type Files = Map<string, { data: Buffer; mode: number }>;

/** Maps container paths to host directories and rewrites strings that mention them. */
export class MountTable {
  private readonly mounts: { containerPath: string; hostPath: string }[];

  constructor(mounts: { containerPath: string; hostPath: string }[]) {
    // Longest first, so /etc/dynamo/token wins over /etc/dynamo.
    this.mounts = [...mounts].sort((a, b) => b.containerPath.length - a.containerPath.length);
  }

  translate(text: string): string {
    // One pass over the text with every mount path at once (longest first), so a host path put in by one mount is
    // never rewritten again by another (a mount at /tmp must not touch a host path under /tmp).
    const byPath = new Map<string, string>();
    for (const { containerPath, hostPath } of this.mounts) {
      const path = containerPath.replace(/\/+$/, "");
      if (path) byPath.set(path, hostPath);
    }
    if (byPath.size === 0) return text;
    const alternatives = [...byPath.keys()]
      .sort((a, b) => b.length - a.length)
      .map((path) => path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
      .join("|");
    return text.replace(new RegExp(`(^|[=:,\\s])(${alternatives})(?=$|[/\\s,:])`, "g"), (_m, lead: string, path: string) => lead + byPath.get(path)!);
  }
}

/** The host directories of one pod's volumes; `refresh` rewrites the file-backed ones. */
export class PodVolumes {
  private readonly hostPaths = new Map<string, string>();

  constructor(private readonly context: VolumeContext) {}

  /** Creates or resolves every volume; throws VolumeNotReadyError or ContainerConfigError. */
  async setUp(): Promise<void> {
    for (const volume of this.context.pod.spec?.volumes ?? []) {
      this.hostPaths.set(volume.name, await this.prepare(volume));
    }
    await this.refresh();
  }

  hostPath(volumeName: string): string {
    const path = this.hostPaths.get(volumeName);
    if (!path) throw new ContainerConfigError(`volume "${volumeName}" is not defined in the pod`);
    return path;
  }

  mountTable(mounts: { name: string; mountPath: string; subPath?: string }[]): MountTable {
    return new MountTable(
      mounts.map((m) => {
        const hostPath = m.subPath ? join(this.hostPath(m.name), m.subPath) : this.hostPath(m.name);
        if (m.subPath) mkdirSync(hostPath, { recursive: true });
        return { containerPath: m.mountPath, hostPath };
      }),
    );
  }

  /** Rewrites Secret, ConfigMap, downward-API and projected volumes from current API state. */
  async refresh(): Promise<void> {
    for (const volume of this.context.pod.spec?.volumes ?? []) {
      const files = await this.files(volume);
      const dir = this.hostPaths.get(volume.name);
      if (files && dir) writeFiles(dir, files);
    }
  }

  private async prepare(volume: V1Volume): Promise<string> {
    const { podDir, pod, api } = this.context;
    const own = join(podDir, "volumes", volume.name);
    if (volume.persistentVolumeClaim) {
      const namespace = pod.metadata?.namespace ?? "default";
      const claimName = volume.persistentVolumeClaim.claimName;
      const claim = await api.find<{ spec?: { volumeName?: string }; status?: { phase?: string } }>(
        `/api/v1/namespaces/${namespace}/persistentvolumeclaims/${claimName}`,
      );
      if (!claim) throw new VolumeNotReadyError(`persistentvolumeclaim "${claimName}" not found`);
      if (claim.status?.phase !== "Bound" || !claim.spec?.volumeName) {
        throw new VolumeNotReadyError(`persistentvolumeclaim "${claimName}" is not bound`);
      }
      const volumeName = claim.spec.volumeName;
      const pv = await api.find<{ spec?: { hostPath?: { path: string }; local?: { path: string } } }>(
        `/api/v1/persistentvolumes/${volumeName}`,
      );
      const path = pv?.spec?.hostPath?.path ?? pv?.spec?.local?.path;
      if (!path) throw new VolumeNotReadyError(`persistentvolume "${volumeName}" has no hostPath or local path`);
      mkdirSync(path, { recursive: true });
      return path;
    }
    if (volume.hostPath) {
      if (!existsSync(volume.hostPath.path)) {
        if (volume.hostPath.type !== "DirectoryOrCreate") throw new VolumeNotReadyError(`hostPath ${volume.hostPath.path} does not exist`);
        mkdirSync(volume.hostPath.path, { recursive: true });
      }
      return volume.hostPath.path;
    }
    const supported = volume.emptyDir || volume.secret || volume.configMap || volume.projected || volume.downwardAPI;
    if (!supported) throw new ContainerConfigError(`volume "${volume.name}" has a type the process kubelet does not support`);
    mkdirSync(own, { recursive: true });
    return own;
  }

  private async files(volume: V1Volume): Promise<Files | undefined> {
    const { reader } = this.context;
    if (volume.secret) {
      const s = volume.secret;
      const data = await reader.secret(s.secretName ?? "", s.optional ?? false);
      return keyFiles(data ?? {}, s.items, s.defaultMode ?? 0o644);
    }
    if (volume.configMap) {
      const c = volume.configMap;
      const data = await reader.configMap(c.name ?? "", c.optional ?? false);
      return keyFiles(data ?? {}, c.items, c.defaultMode ?? 0o644);
    }
    if (volume.downwardAPI) {
      const files: Files = new Map();
      for (const item of volume.downwardAPI.items ?? []) {
        if (!item.fieldRef) continue;
        const value = fieldValue(this.context.pod, this.context.podIp, item.fieldRef.fieldPath);
        files.set(item.path, { data: Buffer.from(value), mode: item.mode ?? volume.downwardAPI.defaultMode ?? 0o644 });
      }
      return files;
    }
    if (volume.projected) return this.projectedFiles(volume);
    return undefined;
  }

  private async projectedFiles(volume: V1Volume): Promise<Files> {
    const projected = volume.projected ?? {};
    const mode = projected.defaultMode ?? 0o644;
    const files: Files = new Map();
    for (const source of projected.sources ?? []) {
      if (source.serviceAccountToken) {
        const t = source.serviceAccountToken;
        const token = await this.context.token(t.audience, t.expirationSeconds ?? 3607);
        files.set(t.path, { data: Buffer.from(token), mode });
      } else if (source.secret) {
        const data = await this.context.reader.secret(source.secret.name ?? "", source.secret.optional ?? false);
        for (const [k, v] of keyFiles(data ?? {}, source.secret.items, mode)) files.set(k, v);
      } else if (source.configMap) {
        const data = await this.context.reader.configMap(source.configMap.name ?? "", source.configMap.optional ?? false);
        for (const [k, v] of keyFiles(data ?? {}, source.configMap.items, mode)) files.set(k, v);
      } else if (source.downwardAPI) {
        for (const item of source.downwardAPI.items ?? []) {
          if (!item.fieldRef) continue;
          const value = fieldValue(this.context.pod, this.context.podIp, item.fieldRef.fieldPath);
          files.set(item.path, { data: Buffer.from(value), mode: item.mode ?? mode });
        }
      }
    }
    return files;
  }
}

function keyFiles(data: Record<string, Buffer>, items: V1KeyToPath[] | undefined, mode: number): Files {
  const files: Files = new Map();
  if (items) {
    for (const item of items) {
      const value = data[item.key];
      if (value !== undefined) files.set(item.path, { data: value, mode: item.mode ?? mode });
    }
  } else {
    for (const [key, value] of Object.entries(data)) files.set(key, { data: value, mode });
  }
  return files;
}

// Writes each changed file through a rename and removes files a previous refresh wrote that are no
// longer part of the volume; the list of written files is kept in a hidden index file.
function writeFiles(dir: string, files: Files): void {
  const indexPath = join(dir, ".process-kubelet-files");
  const previous = existsSync(indexPath) ? readFileSync(indexPath, "utf8").split("\n").filter(Boolean) : [];
  for (const [relative, { data, mode }] of files) {
    if (relative.split("/").includes("..")) throw new ContainerConfigError(`volume file path "${relative}" escapes its volume`);
    const path = join(dir, relative);
    if (existsSync(path) && readFileSync(path).equals(data)) continue;
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(`${path}.tmp`, data, { mode });
    renameSync(`${path}.tmp`, path);
  }
  for (const relative of previous) if (!files.has(relative)) rmSync(join(dir, relative), { force: true });
  writeFileSync(indexPath, [...files.keys()].join("\n"));
}
