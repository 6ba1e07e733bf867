// The controller manager's garbage collector: objects that name an owner in ownerReferences are
// deleted after their owner, in the background and, with foreground propagation, before it.
import assert from "node:assert/strict";
import { admin, createNamespace, deleteNamespace, waitFor } from "../harness/index.js";

interface Meta {
  metadata: { name: string; uid: string };
}

describe("garbage collection", () => {
  let ns: string;

  before(async () => {
    ns = await createNamespace("gc");
  });

  after(async () => {
    await deleteNamespace(ns);
  });

  async function ownerWithDependents(owner: string): Promise<string[]> {
    const api = admin();
    const created = await api.post<Meta>(`/api/v1/namespaces/${ns}/configmaps`, { metadata: { name: owner }, data: { role: "owner" } });
    const ownerReferences = [{ apiVersion: "v1", kind: "ConfigMap", name: owner, uid: created.metadata.uid, blockOwnerDeletion: true }];
    await api.post(`/api/v1/namespaces/${ns}/secrets`, { metadata: { name: `${owner}-secret`, ownerReferences }, stringData: { a: "b" } });
    await api.post(`/api/v1/namespaces/${ns}/configmaps`, { metadata: { name: `${owner}-config`, ownerReferences }, data: { a: "b" } });
    return [`/api/v1/namespaces/${ns}/secrets/${owner}-secret`, `/api/v1/namespaces/${ns}/configmaps/${owner}-config`];
  }

  it("deletes dependents after their owner is deleted (background propagation)", async () => {
    const dependents = await ownerWithDependents("background-owner");
    await admin().delete(`/api/v1/namespaces/${ns}/configmaps/background-owner`, { propagationPolicy: "Background" });
    for (const path of dependents) {
      await waitFor(`the garbage collector to delete ${path}`, async () => (await admin().find(path)) === undefined, { timeoutMs: 60_000 });
    }
  });

  it("deletes dependents before the owner under foreground propagation", async () => {
    const dependents = await ownerWithDependents("foreground-owner");
    const ownerPath = `/api/v1/namespaces/${ns}/configmaps/foreground-owner`;
    await admin().delete(ownerPath, { propagationPolicy: "Foreground" });
    await waitFor("the owner to be deleted", async () => (await admin().find(ownerPath)) === undefined, { timeoutMs: 60_000 });
    for (const path of dependents) assert.equal(await admin().find(path), undefined, `${path} went first`);
  });

  it("keeps dependents that were orphaned on purpose", async () => {
    const dependents = await ownerWithDependents("orphaning-owner");
    const ownerPath = `/api/v1/namespaces/${ns}/configmaps/orphaning-owner`;
    await admin().delete(ownerPath, { propagationPolicy: "Orphan" });
    await waitFor("the owner to be deleted", async () => (await admin().find(ownerPath)) === undefined, { timeoutMs: 60_000 });
    for (const path of dependents) {
      const dependent = await admin().get<{ metadata: { ownerReferences?: unknown[] } }>(path);
      assert.equal(dependent.metadata.ownerReferences, undefined, `${path} is kept without an owner`);
    }
  });
});
