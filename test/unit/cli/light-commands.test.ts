import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "../../..");

/**
 * Every module a source file loads when it is imported: its static imports (not `import type`, not `import()`),
 * followed through the project's own files. Packages are named, not followed.
 */
function staticClosure(entry: string): Set<string> {
  const seen = new Set<string>();
  const pending = [resolve(ROOT, entry)];
  while (pending.length > 0) {
    const file = pending.pop()!;
    const name = relative(ROOT, file);
    if (seen.has(name)) continue;
    seen.add(name);
    const source = readFileSync(file, "utf8");
    for (const match of source.matchAll(/^(?:import|export)\s+(?!type\s)[^;]*?from\s+"([^"]+)";/gms)) {
      const specifier = match[1]!;
      if (!specifier.startsWith(".")) {
        seen.add(specifier);
        continue;
      }
      const target = join(dirname(file), specifier.replace(/\.js$/, ".ts"));
      if (!existsSync(target)) throw new Error(`${name} imports ${specifier}, which is not a file here`);
      pending.push(target);
    }
  }
  return seen;
}

describe("the dynamo command loads only what a subcommand needs", () => {
  it("the closure follows imports and leaves type-only ones out (the check below can fail)", () => {
    const closure = staticClosure("dev/foreground.ts");
    for (const module of ["dev/supervisor.ts", "dev/control.ts", "node/config/index.ts", "express"]) assert.ok(closure.has(module), module);
    assert.ok(!closure.has("dev/main.ts"), "foreground.ts imports only a type from main.ts");
    assert.ok(!staticClosure("dev/main.ts").has("dev/foreground.ts"), "foreground.ts is imported only when the cluster runs");
  });

  it("dynamo dev status, scale, kill, restart and replace load no supervisor, HTTP server or configuration schemas", () => {
    // Each of them is one call to the control API, often from a script polling a cluster on the same cores; loading
    // the supervisor's modules cost each call about half a CPU-second.
    const closure = [...staticClosure("dev/main.ts")];
    const heavy = closure.filter((m) => /^(express|zod|prom-client|classic-level|@kubernetes)/.test(m) || /^(dev\/(supervisor|control|pki)|node\/(config|http|node)|driver)\b/.test(m));
    assert.deepEqual(heavy, [], `dev/main.ts loads ${heavy.join(", ")}`);
  });
});
