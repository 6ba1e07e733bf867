import assert from "node:assert/strict";
import { DEFAULT_CERTIFICATES, ROTATION_RECHECK_MS, planLeaves, recheckAfterMs, type LeafInput, type LeavesInput } from "../../../../operator/certificates/index.js";
import { DAY, SECOND, T0, authority, ca, leaf, settings, trusted } from "./summaries.js";

const caA = ca("A", T0 - DAY, T0 + 3650 * DAY);
const hosts = ["kv-0", "kv-0.kv-peers"];

function plan(leaves: LeafInput[], extra: Partial<LeavesInput> = {}) {
  return planLeaves({ authority: authority(caA), leaves, nodesTrustSigning: true, settings: settings(), nowMs: T0, commonNames: { client: "kv", operator: "dynamo-operator" }, ...extra });
}

const peer = (state: LeafInput["state"], names = hosts): LeafInput => ({ target: { kind: "peer", pod: "kv-0" }, state, hosts: names });

describe("which leaf certificates to issue", () => {
  it("issues a missing one, for its names, from now (a little back-dated) for the configured lifetime", () => {
    const [issue] = plan([peer({ kind: "missing" })]);
    assert.ok(issue);
    assert.deepEqual(issue.hosts, hosts);
    assert.equal(issue.commonName, "kv-0");
    assert.equal(issue.notAfterMs, T0 + 90 * DAY);
    assert.equal(issue.notBeforeMs, T0 - DEFAULT_CERTIFICATES.backdateMsMax);
    assert.match(issue.reason, /none was issued/);
  });

  it("never issues a leaf that outlives its CA", () => {
    const shortCa = ca("short", T0 - DAY, T0 + 10 * DAY);
    const [issue] = plan([peer({ kind: "missing" })], { authority: authority(shortCa) });
    assert.equal(issue?.notAfterMs, T0 + 10 * DAY);
  });

  it("replaces unusable, expired and foreign certificates, and ones whose names changed", () => {
    const cases: [LeafInput, RegExp][] = [
      [peer({ kind: "invalid", problem: "the key is not the certificate's" }), /unusable: the key/],
      [peer(leaf(caA, T0 - 90 * DAY, T0 - SECOND, hosts)), /expired/],
      [peer(leaf(undefined, T0 - DAY, T0 + DAY, hosts)), /not issued by a CA the cluster trusts/],
      [peer(leaf(caA, T0 - DAY, T0 + 80 * DAY, ["kv-0"])), /names it must carry changed/],
    ];
    for (const [input, reason] of cases) {
      const [issue] = plan([input]);
      assert.match(issue?.reason ?? "(kept)", reason);
      assert.equal(issue?.urgent, true);
    }
  });

  it("renews once less than a third of the span is left, and not before", () => {
    const span = 90 * DAY;
    assert.deepEqual(plan([peer(leaf(caA, T0 - span / 2, T0 + span / 2, hosts))]), []);
    const [issue] = plan([peer(leaf(caA, T0 - (2 * span) / 3 - SECOND, T0 + span / 3 - SECOND, hosts))]);
    assert.match(issue?.reason ?? "", /expires at/);
  });

  it("does not churn a leaf the new one would not outlast (its CA ends first)", () => {
    const ending = ca("ending", T0 - 3000 * DAY, T0 + DAY);
    const stored = leaf(ending, T0 - 2 * DAY, T0 + DAY, hosts);
    assert.deepEqual(plan([peer(stored)], { authority: authority(ending) }), []);
  });

  it("moves a leaf from the retired CA to the signing one only once every node trusts the signing CA", () => {
    const caB = ca("B", T0, T0 + 3650 * DAY);
    const old = peer(leaf(caA, T0 - DAY, T0 + 80 * DAY, hosts));
    const switched = authority(caB, { retired: [trusted(caA)] });
    assert.deepEqual(plan([old], { authority: switched, nodesTrustSigning: false }), []);
    const [issue] = plan([old], { authority: switched, nodesTrustSigning: true });
    assert.equal(issue?.urgent, false);
    assert.match(issue?.reason ?? "", /moves to the new CA/);
  });

  it("moves it regardless once the retired CA is about to expire", () => {
    const caB = ca("B", T0, T0 + 3650 * DAY);
    const ending = ca("ending", T0 - 1100 * DAY, T0 + 50 * DAY);
    const stored = peer(leaf(ending, T0 - DAY, T0 + 40 * DAY, hosts));
    const [issue] = plan([stored], { authority: authority(caB, { retired: [trusted(ending)] }), nodesTrustSigning: false });
    assert.match(issue?.reason ?? "", /moves to the new CA/);
  });

  it("issues at most leavesPerPassMax in a pass, urgent ones first", () => {
    const caB = ca("B", T0, T0 + 3650 * DAY);
    const moving = Array.from({ length: DEFAULT_CERTIFICATES.leavesPerPassMax }, (_, i): LeafInput => ({ target: { kind: "peer", pod: `kv-${i}` }, state: leaf(caA, T0 - DAY, T0 + 80 * DAY, [`kv-${i}`]), hosts: [`kv-${i}`] }));
    const missing: LeafInput = { target: { kind: "client" }, state: { kind: "missing" }, hosts: ["kv"] };
    const issues = plan([...moving, missing], { authority: authority(caB, { retired: [trusted(caA)] }) });
    assert.equal(issues.length, DEFAULT_CERTIFICATES.leavesPerPassMax);
    assert.deepEqual(issues[0]?.target, { kind: "client" });
    assert.equal(issues[0]?.commonName, "kv");
  });
});

describe("when the operator looks at certificates again", () => {
  const second = 1000;
  const span = (fromS: number, toS: number) => ({ notBeforeMs: fromS * second, notAfterMs: toS * second });

  it("is when the first certificate falls due: with a third of its span left", () => {
    // Due at 40 s and at 400 s; now is 10 s.
    assert.equal(recheckAfterMs([span(0, 60), span(0, 600)], false, 10 * second), 30 * second);
  });

  it("is now for a certificate already due, and at most the rotation interval while a CA rotation runs", () => {
    assert.equal(recheckAfterMs([span(0, 60)], false, 50 * second), 0);
    assert.equal(recheckAfterMs([span(0, 6000)], true, 0), ROTATION_RECHECK_MS);
    assert.equal(recheckAfterMs([], false, 0), Infinity);
  });
});
