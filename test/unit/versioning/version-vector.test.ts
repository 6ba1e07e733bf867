import assert from "node:assert/strict";
import { compareClocks, covers, descends, mergeClocks } from "../../../node/versioning/index.js";

describe("versioning: version vectors", () => {
  it("descends from itself, from the empty vector, and from anything it dominates", () => {
    assert.ok(descends({ A: 1 }, { A: 1 }));
    assert.ok(descends({ A: 1 }, {}));
    assert.ok(descends({ A: 2, B: 1 }, { A: 1 }));
    assert.ok(!descends({ A: 1 }, { A: 2 }));
    assert.ok(!descends({}, { B: 1 }));
  });

  it("classifies pairs as equal, before, after or concurrent", () => {
    assert.equal(compareClocks({ A: 1 }, { A: 1 }), "equal");
    assert.equal(compareClocks({ A: 1 }, { A: 2 }), "before");
    assert.equal(compareClocks({ A: 3 }, { A: 2 }), "after");
    assert.equal(compareClocks({ A: 1 }, { B: 1 }), "concurrent");
  });

  it("merges pointwise without modifying its inputs", () => {
    const a = { A: 3, B: 1 };
    const b = { B: 2, C: 1 };
    assert.deepEqual(mergeClocks(a, b), { A: 3, B: 2, C: 1 });
    assert.deepEqual(a, { A: 3, B: 1 });
    assert.deepEqual(b, { B: 2, C: 1 });
  });

  it("covers a dot when it has seen that actor's counter", () => {
    assert.ok(covers({ A: 3 }, { actor: "A", counter: 3 }));
    assert.ok(!covers({ A: 3 }, { actor: "A", counter: 4 }));
    assert.ok(!covers({ A: 3 }, { actor: "B", counter: 1 }));
  });

  it("does not read inherited properties as counters", () => {
    assert.ok(!covers({}, { actor: "constructor", counter: 1 }));
    assert.ok(descends({ toString: 1 }, {}));
    assert.deepEqual(mergeClocks({}, { hasOwnProperty: 2 }), { hasOwnProperty: 2 });
  });
});
