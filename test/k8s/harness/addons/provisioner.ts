/**
 * A local-path provisioner, like the one kind and k3s ship: PersistentVolumeClaims of a StorageClass whose provisioner
 * is ours get a PersistentVolume backed by a directory on the node (a hostPath PV with node affinity, pre-bound to the
 * claim through claimRef, so the controller manager's binder completes the binding), which the kubelet mounts into the
 * pod. The directory is world-writable, as local-path-provisioner makes it: the kubelet applies no fsGroup to hostPath
 * volumes, and pods run as non-root users. When a claim is deleted, the binder marks its PV Released; for the Delete
 * reclaim policy this provisioner then removes the directory and the PV, while Retain leaves both for a person to
 * recover, as the StorageClass says. It runs in the harness's process and polls rather than watches: a few lists a
 * second cost nothing here and make the logic a plain "look and act" loop.
 */
import { chmodSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ApiError, type ApiClient } from "../api/api-client.js";

export const LOCAL_PROVISIONER = "dynamo.ringkv.dev/local-path";

export const DEFAULT_PROVISIONER = {
  pollMs: 500,
  /** The default StorageClass (Delete) and a Retain variant, created at start. */
  classes: [
    { name: "local", reclaimPolicy: "Delete", isDefault: true },
    { name: "local-retain", reclaimPolicy: "Retain", isDefault: false },
  ],
};

interface Claim {
  metadata: { name: string; namespace: string; uid: string; resourceVersion: string };
  spec: { storageClassName?: string; volumeName?: string; accessModes?: string[]; resources?: { requests?: { storage?: string } }; volumeMode?: string };
  status?: { phase?: string };
}

interface Volume {
  metadata: { name: string; annotations?: Record<string, string> };
  spec: { persistentVolumeReclaimPolicy?: string; hostPath?: { path: string } };
  status?: { phase?: string };
}

export class LocalProvisioner {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly api: ApiClient,
    private readonly volumesDir: string,
    private readonly nodeName: string,
  ) {}

  async start(): Promise<void> {
    mkdirSync(this.volumesDir, { recursive: true });
    for (const c of DEFAULT_PROVISIONER.classes) {
      try {
        await this.api.post("/apis/storage.k8s.io/v1/storageclasses", {
          apiVersion: "storage.k8s.io/v1",
          kind: "StorageClass",
          metadata: {
            name: c.name,
            annotations: c.isDefault ? { "storageclass.kubernetes.io/is-default-class": "true" } : {},
          },
          provisioner: LOCAL_PROVISIONER,
          reclaimPolicy: c.reclaimPolicy,
          volumeBindingMode: "Immediate",
        });
      } catch (err) {
        if (!(err instanceof ApiError && err.statusCode === 409)) throw err;
      }
    }
    this.schedule();
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      this.running = this.pass()
        .catch((err) => console.error(`[provisioner] ${err instanceof Error ? err.message : String(err)}`))
        .finally(() => {
          if (this.timer) this.schedule();
        });
    }, DEFAULT_PROVISIONER.pollMs);
  }

  private async pass(): Promise<void> {
    const classes = await this.api.get<{ items: { metadata: { name: string }; provisioner: string; reclaimPolicy?: string }[] }>(
      "/apis/storage.k8s.io/v1/storageclasses",
    );
    const ours = new Map(classes.items.filter((c) => c.provisioner === LOCAL_PROVISIONER).map((c) => [c.metadata.name, c.reclaimPolicy ?? "Delete"]));
    const claims = await this.api.get<{ items: Claim[] }>("/api/v1/persistentvolumeclaims");
    for (const claim of claims.items) {
      const className = claim.spec.storageClassName;
      if (claim.status?.phase === "Pending" && !claim.spec.volumeName && className && ours.has(className)) {
        await this.provision(claim, className, ours.get(className) ?? "Delete");
      }
    }
    const volumes = await this.api.get<{ items: Volume[] }>("/api/v1/persistentvolumes");
    for (const volume of volumes.items) {
      const mine = volume.metadata.annotations?.["pv.kubernetes.io/provisioned-by"] === LOCAL_PROVISIONER;
      if (mine && volume.status?.phase === "Released" && volume.spec.persistentVolumeReclaimPolicy === "Delete") {
        await this.reclaim(volume);
      }
    }
  }

  private async provision(claim: Claim, className: string, reclaimPolicy: string): Promise<void> {
    const name = `pvc-${claim.metadata.uid}`;
    const path = join(this.volumesDir, name);
    mkdirSync(path, { recursive: true });
    chmodSync(path, 0o777);
    try {
      await this.api.post("/api/v1/persistentvolumes", {
        apiVersion: "v1",
        kind: "PersistentVolume",
        metadata: { name, annotations: { "pv.kubernetes.io/provisioned-by": LOCAL_PROVISIONER } },
        spec: {
          capacity: { storage: claim.spec.resources?.requests?.storage ?? "1Gi" },
          accessModes: claim.spec.accessModes ?? ["ReadWriteOnce"],
          volumeMode: claim.spec.volumeMode ?? "Filesystem",
          persistentVolumeReclaimPolicy: reclaimPolicy,
          storageClassName: className,
          hostPath: { path, type: "DirectoryOrCreate" },
          claimRef: {
            apiVersion: "v1",
            kind: "PersistentVolumeClaim",
            namespace: claim.metadata.namespace,
            name: claim.metadata.name,
            uid: claim.metadata.uid,
          },
          nodeAffinity: {
            required: {
              nodeSelectorTerms: [{ matchExpressions: [{ key: "kubernetes.io/hostname", operator: "In", values: [this.nodeName] }] }],
            },
          },
        },
      });
    } catch (err) {
      // A PV of that name already exists from an earlier pass: the binder just has not caught up.
      if (!(err instanceof ApiError && err.statusCode === 409)) throw err;
    }
  }

  private async reclaim(volume: Volume): Promise<void> {
    const path = volume.spec.hostPath?.path;
    if (path && path.startsWith(this.volumesDir)) rmSync(path, { recursive: true, force: true });
    try {
      await this.api.delete(`/api/v1/persistentvolumes/${volume.metadata.name}`);
    } catch (err) {
      if (!(err instanceof ApiError && err.statusCode === 404)) throw err;
    }
  }
}
