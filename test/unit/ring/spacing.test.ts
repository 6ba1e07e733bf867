import assert from "node:assert/strict";
import { initialClaim, partitionsPerMember, spacingFeasible, spacingViolations } from "../../../node/ring/index.js";

/** Whether any balanced ring of q partitions over s members has every window of t partitions distinct (search). */
function spacedRingExists(q: number, s: number, t: number): boolean {
  const low = Math.floor(q / s);
  const larger = q % s;
  const left = Array.from({ length: s }, (_, m) => low + (m < larger ? 1 : 0));
  const ring: number[] = [];
  const fits = (m: number, p: number): boolean => {
    for (let d = 1; d < t && d <= p; d++) if (ring[p - d] === m) return false;
    // The partitions at the start of the ring are within reach of the end once it wraps.
    for (let x = 0; x < t - 1 && x < p; x++) if (ring[x] === m && q - p + x < t) return false;
    return true;
  };
  const place = (p: number): boolean => {
    if (p === q) return true;
    const triedUnused = new Set<number>();
    for (let m = 0; m < s; m++) {
      if (left[m] === 0 || !fits(m, p)) continue;
      // Members that have not appeared yet and have the same quota are interchangeable: try one of each kind.
      const unused = !ring.includes(m);
      if (unused && triedUnused.has(left[m] as number)) continue;
      if (unused) triedUnused.add(left[m] as number);
      left[m] = (left[m] as number) - 1;
      ring.push(m);
      if (place(p + 1)) return true;
      ring.pop();
      left[m] = (left[m] as number) + 1;
    }
    return false;
  };
  return place(0);
}

const members = (count: number): string[] => Array.from({ length: count }, (_, i) => `m${String(i).padStart(2, "0")}`);

describe("ring spacing", () => {
  it("finds every violating pair, including across the wrap", () => {
    assert.deepEqual(spacingViolations(["a", "b", "c", "a", "b", "c"], 3), []);
    assert.deepEqual(spacingViolations(["a", "b", "a", "c", "b", "c"], 3), [0, 3]);
    assert.deepEqual(spacingViolations(["a", "b", "c", "d", "a"], 2), [4]);
    assert.deepEqual(spacingViolations(["a", "b", "c", "d", "e", "a", "b"], 3), [5, 6]);
  });

  it("is feasible exactly when ⌈Q/S⌉ · targetN ≤ Q, checked by exhaustive search on small rings", () => {
    for (let t = 2; t <= 4; t++) {
      for (let q = t; q <= 12; q++) {
        for (let s = 1; s <= q + 1; s++) {
          assert.equal(spacingFeasible(q, s, t), spacedRingExists(q, s, t), `Q=${q} S=${s} targetN=${t}`);
        }
      }
    }
  });

  it("is never feasible with S = 3 = targetN on a power-of-two ring, and always with S = 4", () => {
    for (let q = 4; q <= 65536; q *= 2) {
      assert.equal(spacingFeasible(q, 3, 3), false);
      assert.equal(spacingFeasible(q, 4, 3), true);
    }
  });

  it("lays out new rings balanced, and spaced whenever spacing is feasible", () => {
    let spacedLayouts = 0;
    for (const t of [2, 3, 4, 5]) {
      for (let q = 8; q <= 4096; q *= 2) {
        for (let s = 1; s <= 96; s++) {
          const owners = initialClaim(q, members(s), t);
          const counts = Object.values(partitionsPerMember(owners));
          const low = Math.floor(q / s);
          assert.ok(counts.every((c) => c === low || c === low + 1), `unbalanced at Q=${q} S=${s}`);
          assert.equal(counts.length, Math.min(q, s));
          if (spacingFeasible(q, s, t)) {
            assert.deepEqual(spacingViolations(owners, t), [], `Q=${q} S=${s} targetN=${t}`);
            spacedLayouts++;
          }
        }
      }
    }
    assert.ok(spacedLayouts > 3000, "the grid should mostly be feasible");
  });

  it("covers the tight case Q = L · targetN where the lap layout alone would fail (Q=16, S=5, targetN=4)", () => {
    const owners = initialClaim(16, members(5), 4);
    assert.deepEqual(spacingViolations(owners, 4), []);
  });
});
