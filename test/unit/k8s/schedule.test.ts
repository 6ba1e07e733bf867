import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { DEFAULT_SUITE, longestFirst, phases } from "../../k8s/harness/schedule.js";

describe("Kubernetes suite schedule", function () {
  it("orders files longest first, a file without a measured time as a long one, ties by name", function () {
    const seconds = { "a.test.ts": 10, "b.test.ts": 300, "c.test.ts": 10 };
    assert.deepEqual(longestFirst(["a.test.ts", "c.test.ts", "new.test.ts", "b.test.ts"], seconds), ["b.test.ts", "new.test.ts", "a.test.ts", "c.test.ts"]);
  });

  it("runs the chart's file first with only the files that make no cluster beside it, then the rest longest first", function () {
    const files = [
      "test/k8s/cluster/rbac.test.ts",
      "test/k8s/operator/scenarios.test.ts",
      "test/k8s/chart/chart.test.ts",
      "test/k8s/image/image.test.ts",
      "test/k8s/operator/crd.test.ts",
      "test/k8s/autoscaling/hpa.test.ts",
    ];
    assert.deepEqual(phases(files), [
      ["test/k8s/chart/chart.test.ts", "test/k8s/image/image.test.ts", "test/k8s/cluster/rbac.test.ts"],
      ["test/k8s/operator/scenarios.test.ts", "test/k8s/autoscaling/hpa.test.ts", "test/k8s/operator/crd.test.ts"],
    ]);
  });

  it("without an exclusive file every file is in one phase, cluster files too", function () {
    assert.deepEqual(phases(["test/k8s/cluster/rbac.test.ts", "test/k8s/operator/scenarios.test.ts"]), [["test/k8s/operator/scenarios.test.ts", "test/k8s/cluster/rbac.test.ts"]]);
  });

  it("knows the time of every Kubernetes test file, so none falls back to the guess", function () {
    const root = new URL("../../../", import.meta.url).pathname;
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        if (e.isDirectory()) walk(join(dir, e.name));
        else if (e.name.endsWith(".test.ts")) files.push(relative(root, join(dir, e.name)));
      }
    };
    walk(join(root, "test/k8s"));
    assert.deepEqual(files.filter((f) => DEFAULT_SUITE.seconds[f] === undefined), [], "add their [k8s file] times to DEFAULT_SUITE.seconds");
  });
});
