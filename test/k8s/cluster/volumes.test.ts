// The local volume provisioner: a claim of a local StorageClass is bound to a new host-directory
// volume, and deleting the claim reclaims the volume as its class says — Delete removes the volume
// and its directory, Retain keeps both for a person to recover.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import type { V1PersistentVolume, V1PersistentVolumeClaim } from "@kubernetes/client-node";
import { admin, createNamespace, deleteNamespace, waitFor } from "../harness/index.js";

describe("local persistent volumes", () => {
  let ns: string;

  before(async () => {
    ns = await createNamespace("volumes");
  });

  after(async () => {
    await deleteNamespace(ns);
  });

  async function boundClaim(name: string, storageClassName?: string): Promise<V1PersistentVolume> {
    await admin().post(`/api/v1/namespaces/${ns}/persistentvolumeclaims`, {
      metadata: { name },
      spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "2Gi" } }, ...(storageClassName ? { storageClassName } : {}) },
    });
    const claim = await waitFor(`claim ${name} to be bound`, async () => {
      const c = await admin().get<V1PersistentVolumeClaim>(`/api/v1/namespaces/${ns}/persistentvolumeclaims/${name}`);
      return c.status?.phase === "Bound" ? c : undefined;
    }, { timeoutMs: 30_000 });
    const pv = await admin().get<V1PersistentVolume>(`/api/v1/persistentvolumes/${claim.spec?.volumeName}`);
    assert.equal(pv.spec?.capacity?.storage, "2Gi");
    assert.ok(pv.spec?.hostPath?.path && existsSync(pv.spec.hostPath.path), "the volume is a host directory");
    return pv;
  }

  it("binds a claim without a class through the default class and deletes the volume with it", async () => {
    const pv = await boundClaim("default-class");
    assert.equal(pv.spec?.storageClassName, "local");
    assert.equal(pv.spec?.persistentVolumeReclaimPolicy, "Delete");
    await admin().delete(`/api/v1/namespaces/${ns}/persistentvolumeclaims/default-class`);
    await waitFor(`volume ${pv.metadata?.name} to be deleted`, async () => (await admin().find(`/api/v1/persistentvolumes/${pv.metadata?.name}`)) === undefined, {
      timeoutMs: 30_000,
    });
    assert.equal(existsSync(pv.spec?.hostPath?.path ?? ""), false, "its directory is removed");
  });

  it("keeps a Retain volume and its directory after the claim is deleted", async () => {
    const pv = await boundClaim("retained", "local-retain");
    await admin().delete(`/api/v1/namespaces/${ns}/persistentvolumeclaims/retained`);
    const released = await waitFor(`volume ${pv.metadata?.name} to be Released`, async () => {
      const v = await admin().get<V1PersistentVolume>(`/api/v1/persistentvolumes/${pv.metadata?.name}`);
      return v.status?.phase === "Released" ? v : undefined;
    }, { timeoutMs: 30_000 });
    assert.equal(released.spec?.persistentVolumeReclaimPolicy, "Retain");
    assert.ok(existsSync(pv.spec?.hostPath?.path ?? ""), "its directory is kept");
    await admin().delete(`/api/v1/persistentvolumes/${pv.metadata?.name}`);
  });
});
