// The rotation protocol simulated over hours of cluster time: the operator's planners run every few seconds against
// Secrets that reach each node only after a random delay (the kubelet's), nodes that sometimes do not answer, that
// restart, and users who ask for a new CA. At every simulated second, every node must accept every other node's
// certificate (issued by a CA in its bundle, and valid), and so must the operator. Certificates are summaries with
// made-up fingerprints: this checks the decisions, not the cryptography.
import assert from "node:assert/strict";
import {
  applyAuthorityStep,
  backdateMs,
  needsNewCa,
  notServing,
  notTrusting,
  planAuthority,
  planLeaves,
  trustBundle,
  type Authority,
  type CertificateSettings,
  type CertificateSummary,
  type KeyedCertificate,
  type LeafState,
  type NodeTlsReport,
} from "../../../../operator/certificates/index.js";
import { seededRandom, type SeededRandom } from "../../../../lib/random.js";
import { testSeed } from "../../../helpers/random.js";
import { SECOND, T0, fingerprint } from "./summaries.js";

interface Leaf {
  summary: CertificateSummary;
  issuer: string;
}

interface Snapshot {
  bundle: string[];
  leaves: Map<string, Leaf>;
}

interface SimNode {
  pod: string;
  loaded: { bundle: string[]; leaf: Leaf } | undefined;
  loadAtMs: number | undefined;
}

const MINUTE = 60 * SECOND;

class Simulation {
  nowMs = T0;
  authority: Authority | undefined;
  leaves = new Map<string, Leaf>();
  operatorLeaf: Leaf | undefined;
  operatorTrust: string[] = [];
  nodes: SimNode[];
  request: string | undefined;
  readonly log: string[] = [];
  rotations = 0;
  renewals = 0;

  constructor(
    private readonly rng: SeededRandom,
    readonly settings: CertificateSettings,
    pods: number,
    private readonly kubeletDelayMsMax: number,
  ) {
    this.nodes = Array.from({ length: pods }, (_, i) => ({ pod: `kv-${i}`, loaded: undefined, loadAtMs: undefined }));
  }

  private snapshot(): Snapshot {
    return { bundle: this.authority ? trustBundle(this.authority).map((c) => c.summary.fingerprint) : [], leaves: new Map(this.leaves) };
  }

  private state(leaf: Leaf | undefined, bundle: string[]): LeafState {
    if (!leaf) return { kind: "missing" };
    return { kind: "present", summary: leaf.summary, issuer: bundle.includes(leaf.issuer) ? leaf.issuer : undefined };
  }

  private newCertificate(label: string, lifetimeMs: number, isCa: boolean, notAfterMaxMs = Infinity): KeyedCertificate {
    const summary = { fingerprint: fingerprint(label), commonName: label, notBeforeMs: this.nowMs - backdateMs(lifetimeMs), notAfterMs: Math.min(this.nowMs + lifetimeMs, notAfterMaxMs), isCa, hosts: [] };
    return { cert: label, key: label, summary };
  }

  /** One operator pass: what the controller does, with the nodes' reports as they stand. */
  pass(): void {
    const reports: NodeTlsReport[] = this.nodes.map((n) =>
      n.loaded && this.rng.chance(0.9)
        ? { pod: n.pod, reachable: true, peer: { caFingerprints: n.loaded.bundle, certFingerprint: n.loaded.leaf.summary.fingerprint, certNotAfter: "" } }
        : { pod: n.pod, reachable: false },
    );
    const before = this.authority;
    const bundleBefore = before ? trustBundle(before).map((c) => c.summary.fingerprint) : [];
    const signingBefore = before?.signing.summary.fingerprint;
    const fromSigning = [...this.nodes.map((n) => this.leaves.get(n.pod)), this.operatorLeaf].every((l) => l !== undefined && l.issuer === signingBefore);
    const stored = new Map([...this.leaves].map(([pod, l]) => [pod, l.summary.fingerprint]));
    const step = planAuthority({
      read: before ? { kind: "ok", authority: before } : { kind: "missing" },
      distributed: [],
      nodes: reports,
      leavesFromSigning: fromSigning,
      nodesNotServing: notServing(reports, stored, undefined),
      settings: this.settings,
      nowMs: this.nowMs,
    });
    const fresh = needsNewCa(step) ? this.newCertificate("ca", this.settings.caLifetimeMs, true) : undefined;
    const authority = applyAuthorityStep(before, step, fresh, this.nowMs, this.settings) as Authority;
    if (step.kind !== "none") this.log.push(`${(this.nowMs - T0) / SECOND}s ${step.kind}`);
    if (step.kind === "retire") this.rotations++;
    const bundle = trustBundle(authority).map((c) => c.summary.fingerprint);
    const issues = planLeaves({
      authority,
      leaves: [
        ...this.nodes.map((n) => ({ target: { kind: "peer" as const, pod: n.pod }, state: this.state(this.leaves.get(n.pod), bundle), hosts: [] })),
        { target: { kind: "operator" as const }, state: this.state(this.operatorLeaf, bundle), hosts: [] },
      ],
      nodesTrustSigning: notTrusting(reports, authority.signing.summary.fingerprint).length === 0,
      settings: this.settings,
      nowMs: this.nowMs,
      commonNames: { client: "kv", operator: "dynamo-operator" },
    });
    for (const issue of issues) {
      const leaf = { summary: { ...this.newCertificate("leaf", 0, false).summary, notBeforeMs: issue.notBeforeMs, notAfterMs: issue.notAfterMs }, issuer: authority.signing.summary.fingerprint };
      if (issue.target.kind === "peer") {
        if (this.leaves.has(issue.target.pod)) this.renewals++;
        this.leaves.set(issue.target.pod, leaf);
      } else {
        this.operatorLeaf = leaf;
      }
    }
    this.authority = authority;
    this.operatorTrust = bundle;
    const changed = issues.some((i) => i.target.kind === "peer") || bundle.join() !== bundleBefore.join();
    // The kubelet delivers a changed Secret to each node after its own delay; a later change does not reset a delay
    // already running (it syncs whatever is newest when it gets there).
    if (changed) for (const n of this.nodes) n.loadAtMs ??= this.nowMs + this.kubeletDelayMs();
  }

  /**
   * Mostly within a minute, sometimes much longer: longer than the overlap the new CA gets (a twelfth of its span),
   * so only waiting for the nodes' own reports keeps them safe.
   */
  private kubeletDelayMs(): number {
    return this.rng.chance(0.85) ? this.rng.between(SECOND, MINUTE) : this.rng.between(MINUTE, this.kubeletDelayMsMax);
  }

  /** A node reads its mounted files: it keeps its old set when the new one is not consistent, as TlsDir does. */
  private load(n: SimNode, snapshot: Snapshot): void {
    const leaf = snapshot.leaves.get(n.pod);
    n.loadAtMs = undefined;
    if (!leaf || !snapshot.bundle.includes(leaf.issuer) || leaf.summary.notAfterMs <= this.nowMs) return;
    n.loaded = { bundle: snapshot.bundle, leaf };
  }

  tick(): void {
    this.nowMs += SECOND;
    const snapshot = this.snapshot();
    for (const n of this.nodes) {
      if (n.loadAtMs !== undefined && this.nowMs >= n.loadAtMs) this.load(n, snapshot);
      // A restart reads the Secret as it is now.
      if (n.loaded && this.rng.chance(1 / 3600)) this.load(n, snapshot);
      if (!n.loaded) this.load(n, snapshot);
    }
  }

  /** Pairs that would fail their handshake right now. */
  violations(): string[] {
    const out: string[] = [];
    const accepts = (who: string, bundle: string[], other: string, leaf: Leaf | undefined) => {
      if (!leaf) return;
      if (!bundle.includes(leaf.issuer)) out.push(`${who} does not trust the CA of ${other}'s certificate`);
      else if (leaf.summary.notAfterMs <= this.nowMs) out.push(`${other}'s certificate has expired (${who} refuses it)`);
      else if (leaf.summary.notBeforeMs > this.nowMs) out.push(`${other}'s certificate is not valid yet`);
    };
    for (const a of this.nodes) {
      if (!a.loaded) continue;
      for (const b of this.nodes) if (b !== a && b.loaded) accepts(a.pod, a.loaded.bundle, b.pod, b.loaded.leaf);
      accepts(a.pod, a.loaded.bundle, "the operator", this.operatorLeaf);
      accepts("the operator", this.operatorTrust, a.pod, a.loaded.leaf);
    }
    return out;
  }
}

function run(seed: number, options: { hours: number; pods: number; requestsPerHour: number }): Simulation {
  const rng = seededRandom(seed);
  const sim = new Simulation(rng, { certificateLifetimeMs: 15 * MINUTE, caLifetimeMs: 30 * MINUTE, rotationRequest: undefined }, options.pods, 280 * SECOND);
  let nextPassMs = sim.nowMs;
  const endMs = sim.nowMs + options.hours * 3600 * SECOND;
  while (sim.nowMs < endMs) {
    if (rng.chance(options.requestsPerHour / 3600)) sim.settings.rotationRequest = `request-${sim.nowMs}`;
    if (sim.nowMs >= nextPassMs) {
      sim.pass();
      nextPassMs = sim.nowMs + rng.between(2 * SECOND, 30 * SECOND);
    }
    sim.tick();
    const broken = sim.violations();
    if (broken.length > 0) {
      assert.fail(`seed ${seed}, at ${(sim.nowMs - T0) / SECOND}s: ${broken.slice(0, 3).join("; ")}\nlast steps: ${sim.log.slice(-8).join(", ")}`);
    }
  }
  return sim;
}

describe("certificate rotation, simulated against the kubelet's delays", function () {
  this.timeout(120_000);

  it("never leaves two nodes, or the operator and a node, unable to talk through hours of renewals and CA rotations", () => {
    const seed = testSeed("rotation simulation");
    const rng = seededRandom(seed);
    for (let round = 0; round < 4; round++) {
      const sim = run(rng.int(2 ** 31), { hours: 4, pods: rng.between(3, 6), requestsPerHour: round % 2 === 0 ? 0 : 1 });
      // A 30-minute CA rotates at least every 20 minutes and each rotation finishes.
      assert.ok(sim.rotations >= 8, `only ${sim.rotations} CA rotations finished in 4 hours: ${sim.log.slice(-10).join(", ")}`);
      assert.ok(sim.renewals >= 20, `only ${sim.renewals} leaf renewals`);
    }
  });
});
