import assert from "node:assert/strict";
import { applyAuthorityStep, planAuthority, trustBundle, type AuthorityInput, type AuthorityStep } from "../../../../operator/certificates/index.js";
import { DAY, SECOND, T0, authority, ca, node, settings, trusted } from "./summaries.js";

const caA = ca("A", T0 - DAY, T0 + 3650 * DAY);

function input(extra: Partial<AuthorityInput>): AuthorityInput {
  return {
    read: { kind: "ok", authority: authority(caA) },
    distributed: [],
    nodes: [node("kv-0", [caA]), node("kv-1", [caA]), node("kv-2", [caA])],
    leavesFromSigning: true,
    nodesNotServing: [],
    settings: settings(),
    nowMs: T0,
    ...extra,
  };
}

const kind = (step: AuthorityStep) => step.kind;

describe("the cluster CA's rotation", () => {
  describe("without a CA Secret", () => {
    it("creates a CA for a new cluster", () => {
      const step = planAuthority(input({ read: { kind: "missing" } }));
      assert.equal(step.kind, "create");
      assert.deepEqual(step.kind === "create" && step.trust, []);
    });

    it("keeps trusting what the nodes were given when the CA Secret was lost, but not CAs that expired", () => {
      const lost = ca("lost", T0 - 10 * DAY, T0 + DAY);
      const dead = ca("dead", T0 - 10 * DAY, T0 - SECOND);
      const step = planAuthority(input({ read: { kind: "missing" }, distributed: [trusted(lost), trusted(dead)] }));
      assert.equal(step.kind, "create");
      assert.deepEqual(step.kind === "create" && step.trust.map((c) => c.summary.commonName), ["lost"]);
      const fresh = ca("new", T0, T0 + 3650 * DAY);
      const next = applyAuthorityStep(undefined, step, fresh, T0, settings());
      assert.deepEqual(next && trustBundle(next).map((c) => c.summary.commonName), ["new", "lost"]);
    });
  });

  it("changes nothing while the material is invalid", () => {
    const step = planAuthority(input({ read: { kind: "invalid", problem: "tls.key is not the key of tls.crt" } }));
    assert.deepEqual(step, { kind: "invalid", problem: "tls.key is not the key of tls.crt" });
  });

  describe("when to begin", () => {
    it("does nothing while more than a third of the CA's span is left", () => {
      assert.equal(kind(planAuthority(input({ nowMs: T0 + 2000 * DAY }))), "none");
    });

    it("begins with a third of the CA's span left", () => {
      const span = 3651 * DAY;
      const step = planAuthority(input({ nowMs: caA.summary.notAfterMs - span / 3 + SECOND }));
      assert.equal(step.kind, "begin");
      assert.match(step.kind === "begin" ? step.reason : "", /expires at/);
    });

    it("begins when the rotate-ca annotation carries a value not acted upon yet, and only once per value", () => {
      const asked = planAuthority(input({ settings: settings({ rotationRequest: "2026-11-30" }) }));
      assert.equal(asked.kind, "begin");
      const after = applyAuthorityStep(authority(caA), asked, ca("B", T0, T0 + 3650 * DAY), T0, settings({ rotationRequest: "2026-11-30" }));
      assert.equal(after?.handledRequest, "2026-11-30");
      const again = planAuthority(input({ read: { kind: "ok", authority: authority(caA, { handledRequest: "2026-11-30" }) }, settings: settings({ rotationRequest: "2026-11-30" }) }));
      assert.equal(again.kind, "none");
    });
  });

  describe("switching to the new CA", () => {
    const caB = ca("B", T0, T0 + 3650 * DAY);
    const adding = (since: number) => ({ kind: "ok" as const, authority: authority(caA, { next: caB, nextSinceMs: since }) });
    const overlap = 24 * 3600 * SECOND;

    it("waits for every running node to report the new CA, naming the ones that have not", () => {
      const step = planAuthority(input({ read: adding(T0), nowMs: T0 + 2 * overlap, nodes: [node("kv-0", [caA, caB]), node("kv-1", [caA]), { pod: "kv-2", reachable: false }] }));
      assert.equal(step.kind, "none");
      assert.match(step.kind === "none" ? (step.waiting ?? "") : "", /kv-1, kv-2 to load the new CA/);
    });

    it("gives clients the overlap to fetch the new CA even when every node has it", () => {
      const nodes = [node("kv-0", [caA, caB]), node("kv-1", [caA, caB])];
      assert.equal(kind(planAuthority(input({ read: adding(T0), nodes, nowMs: T0 + overlap - SECOND }))), "none");
      const step = planAuthority(input({ read: adding(T0), nodes, nowMs: T0 + overlap }));
      assert.deepEqual(step.kind === "switch" && step.forced, false);
    });

    it("switches without confirmation once the old CA is about to expire", () => {
      const nowMs = caA.summary.notAfterMs - (caA.summary.notAfterMs - caA.summary.notBeforeMs) / 12 + SECOND;
      const step = planAuthority(input({ read: adding(nowMs - SECOND), nowMs, nodes: [node("kv-0", [caA])] }));
      assert.equal(step.kind, "switch");
      assert.equal(step.kind === "switch" && step.forced, true);
      assert.match(step.kind === "switch" ? step.reason : "", /kv-0 did not confirm/);
    });

    it("moves the old CA to the retired list, still trusted", () => {
      const next = applyAuthorityStep(authority(caA, { next: caB, nextSinceMs: T0 }), { kind: "switch", forced: false, reason: "" }, undefined, T0, settings());
      assert.equal(next?.signing, caB);
      assert.equal(next?.next, undefined);
      assert.deepEqual(next && trustBundle(next).map((c) => c.summary.commonName), ["B", "A"]);
    });
  });

  describe("retiring the old CA", () => {
    const caB = ca("B", T0, T0 + 3650 * DAY);
    const retiring = { kind: "ok" as const, authority: authority(caB, { retired: [trusted(caA)] }) };

    it("waits until every stored certificate comes from the new CA", () => {
      const step = planAuthority(input({ read: retiring, leavesFromSigning: false }));
      assert.deepEqual(step, { kind: "none", waiting: "issuing certificates from the new CA" });
    });

    it("waits until every node presents its new certificate", () => {
      const step = planAuthority(input({ read: retiring, nodesNotServing: ["kv-2"] }));
      assert.match(step.kind === "none" ? (step.waiting ?? "") : "", /kv-2 to load certificates from the new CA/);
    });

    it("drops the old CA once they do", () => {
      const step = planAuthority(input({ read: retiring }));
      assert.deepEqual(step.kind === "retire" && step.fingerprints, [caA.summary.fingerprint]);
      const after = applyAuthorityStep(retiring.authority, step, undefined, T0, settings());
      assert.deepEqual(after && trustBundle(after).map((c) => c.summary.commonName), ["B"]);
    });

    it("drops an expired CA at once, whatever the nodes say", () => {
      const expired = ca("old", T0 - 100 * DAY, T0 - SECOND);
      const step = planAuthority(input({ read: { kind: "ok", authority: authority(caB, { retired: [trusted(expired)] }) }, nodesNotServing: ["kv-0"], leavesFromSigning: false }));
      assert.deepEqual(step.kind === "retire" && step.fingerprints, [expired.summary.fingerprint]);
    });
  });
});
