import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join, posix } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { parseDynamoCluster } from "../../../operator/api/index.js";
import { buildStatefulSet } from "../../../operator/resources/index.js";
import { COMPILER_FLAG, YOUNG_GENERATION_FLAG } from "../../../dev/supervisor.js";
import { execForm, isIgnored, parseCopy, parseDockerfile, stageInstructions, workdirAt, type Stage } from "../../../scripts/image/dockerfile.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const dockerfile = parseDockerfile(readFileSync(join(ROOT, "Dockerfile"), "utf8"));
const dockerignore = readFileSync(join(ROOT, ".dockerignore"), "utf8");
const packageJson = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { bin: Record<string, string>; engines: { node: string } };
const buildConfig = JSON.parse(readFileSync(join(ROOT, "tsconfig.build.json"), "utf8")) as { include: string[] };

const buildStage = dockerfile.stages.find((s) => s.name === "build");
const finalStage = dockerfile.stages[dockerfile.stages.length - 1] as Stage;

function runs(stage: Stage): string[] {
  return stageInstructions(stage, "RUN").map((i) => i.rest);
}

/** The last instruction of a kind in a stage, as the image would keep it. */
function last(stage: Stage, keyword: string) {
  const found = stageInstructions(stage, keyword);
  assert.ok(found.length > 0, `the final stage has no ${keyword}`);
  return found[found.length - 1] as (typeof found)[number];
}

/**
 * Where each path of the final image that comes from the build stage lives in this repository: the build stage's
 * working directory is the repository root, so `/src/dist` there is `dist/` here.
 */
function finalCopiesFromBuild(): { destination: string; repoPath: string }[] {
  assert.ok(buildStage);
  const buildRoot = workdirAt(buildStage, buildStage.instructions[buildStage.instructions.length - 1] as Stage["instructions"][number]);
  return stageInstructions(finalStage, "COPY")
    .map((instruction) => ({ instruction, copy: parseCopy(instruction) }))
    .filter(({ copy }) => copy.from === "build")
    .flatMap(({ instruction, copy }) =>
      copy.sources.map((source) => {
        const absolute = posix.resolve(buildRoot, source);
        assert.ok(absolute.startsWith(`${buildRoot}/`), `COPY --from=build ${source} reaches outside the build stage's ${buildRoot}`);
        return {
          destination: posix.resolve(workdirAt(finalStage, instruction), copy.destination),
          repoPath: posix.relative(buildRoot, absolute),
        };
      }),
    );
}

describe("Dockerfile", () => {
  before(() => {
    assert.ok(
      existsSync(join(ROOT, "dist/cli/main.js")),
      "dist/ is missing: run `npm run build` (or `node scripts/ensure-built.mjs`) before the packaging tests",
    );
  });

  it("has a build stage that installs every dependency and compiles, and a separate final stage", () => {
    assert.ok(buildStage, "no stage named build");
    assert.notEqual(finalStage, buildStage);
    assert.ok(runs(buildStage).some((r) => /^npm ci\b/.test(r)), "the build stage does not run npm ci");
    assert.ok(runs(buildStage).some((r) => /^npm run build\b/.test(r)), "the build stage does not run npm run build");
  });

  it("copies every folder tsconfig.build.json compiles into the build stage", () => {
    assert.ok(buildStage);
    const copied = stageInstructions(buildStage, "COPY").flatMap((i) => parseCopy(i).sources);
    for (const folder of [...buildConfig.include, "tsconfig.json", "tsconfig.build.json", "package.json", "package-lock.json"]) {
      assert.ok(copied.includes(folder), `the build stage does not copy ${folder}`);
    }
  });

  it("bases both stages on the same current LTS line of Node.js, one package.json accepts", () => {
    const match = /^node:(\d+)-[a-z]+-slim$/.exec(finalStage.image);
    assert.ok(match, `final stage image ${finalStage.image} is not node:<major>-<debian>-slim`);
    const major = Number(match[1]);
    // Even-numbered lines become LTS; 20 reached its end of life in April 2026.
    assert.equal(major % 2, 0, `Node.js ${major} is not an LTS line`);
    assert.ok(major >= 22, `Node.js ${major} is past its end of life`);
    const minimum = /^>=\s*(\d+)/.exec(packageJson.engines.node);
    assert.ok(minimum && major >= Number(minimum[1]), `package.json engines ${packageJson.engines.node} refuses Node.js ${major}`);
    // classic-level's native binding is chosen at install time; both stages must agree on the platform.
    assert.equal(buildStage?.image, finalStage.image);
  });

  it("installs only production dependencies in the final stage, and builds nothing there", () => {
    const finalRuns = runs(finalStage);
    assert.ok(finalRuns.some((r) => /^npm ci\b.*--omit=dev\b/.test(r)), "the final stage does not run npm ci --omit=dev");
    for (const run of finalRuns) {
      assert.doesNotMatch(run, /npm run build|\btsc\b|apt-get|build-essential|python3|\bmake\b|\bg\+\+/, `the final stage builds or installs tools: ${run}`);
    }
  });

  it("copies into the final stage only the manifests from the context and dist/ from the build stage", () => {
    const sources = stageInstructions(finalStage, "COPY").map((i) => parseCopy(i));
    const fromContext = sources.filter((c) => c.from === undefined).flatMap((c) => c.sources);
    assert.deepEqual(fromContext.sort(), ["package-lock.json", "package.json"]);
    assert.deepEqual(
      finalCopiesFromBuild().map((c) => c.repoPath),
      ["dist"],
    );
    assert.ok(sources.every((c) => c.from === undefined || c.from === "build"), "the final stage copies from an unexpected stage");
  });

  it("copies from the build stage only paths that exist after npm run build", () => {
    for (const { repoPath } of finalCopiesFromBuild()) assert.ok(existsSync(join(ROOT, repoPath)), `${repoPath} does not exist after the build`);
  });

  it("copies from the context only files that exist and that .dockerignore lets through", () => {
    for (const stage of dockerfile.stages) {
      for (const copy of stageInstructions(stage, "COPY").map((i) => parseCopy(i)).filter((c) => c.from === undefined)) {
        for (const source of copy.sources) {
          assert.ok(existsSync(join(ROOT, source)), `COPY ${source}: no such path in the repository`);
          assert.ok(!isIgnored(dockerignore, source), `COPY ${source}: excluded by .dockerignore`);
        }
      }
    }
  });

  it("keeps host build output, dependencies and local state out of the build context", () => {
    for (const path of ["node_modules", "node_modules/classic-level/prebuilds", "dist", "dist/cli/main.js", ".git", ".dynamo", "test/unit", "debug.log"]) {
      assert.ok(isIgnored(dockerignore, path), `.dockerignore lets ${path} into the build context`);
    }
  });

  it("runs as the same non-root numeric user as the storage pods and the chart's operator pods", () => {
    const user = last(finalStage, "USER").rest.trim();
    const match = /^(\d+)(?::(\d+))?$/.exec(user);
    assert.ok(match, `USER ${user} is not numeric; Kubernetes can only verify runAsNonRoot for a numeric user`);
    const uid = Number(match[1]);
    assert.ok(uid > 0, "USER is root");
    const cluster = parseDynamoCluster({ metadata: { name: "kv", namespace: "ns", uid: "u" }, spec: {} });
    const storagePod = buildStatefulSet(cluster, { replicas: 3, defaultImage: "ringkv/dynamo:test" }).spec?.template.spec;
    assert.equal(storagePod?.securityContext?.runAsUser, uid);
    const chartValues = parse(readFileSync(join(ROOT, "charts/dynamo-operator/values.yaml"), "utf8"));
    assert.equal(chartValues.podSecurityContext.runAsUser, uid);
  });

  it("runs Node.js with the runtime settings `dynamo dev` gives its nodes: the allocator's and V8's young generation", () => {
    const env = stageInstructions(finalStage, "ENV").map((i) => i.rest).join(" ");
    for (const setting of ["MALLOC_ARENA_MAX=2", "MALLOC_MMAP_THRESHOLD_=131072", `NODE_OPTIONS=${YOUNG_GENERATION_FLAG}`]) {
      assert.ok(env.split(/\s+/).includes(setting), `the final stage's ENV lacks ${setting}`);
    }
  });

  it("has `dynamo` (dist/cli/main.js) as its entrypoint, without V8's Maglev tier, running a storage node by default", () => {
    assert.deepEqual(execForm(last(finalStage, "ENTRYPOINT")), ["node", COMPILER_FLAG, "/app/dist/cli/main.js"]);
    assert.deepEqual(execForm(last(finalStage, "CMD")), ["node"]);
    const script = "/app/dist/cli/main.js";
    const copy = finalCopiesFromBuild().find((c) => script.startsWith(`${c.destination}/`));
    assert.ok(copy, `${script} is not copied into the final stage`);
    const repoPath = posix.join(copy.repoPath, posix.relative(copy.destination, script));
    assert.equal(repoPath, packageJson.bin.dynamo, "the entrypoint is not package.json's `dynamo` binary");
    assert.ok(existsSync(join(ROOT, repoPath)), `${repoPath} does not exist after the build`);
  });

  it("names an entrypoint that runs and offers the node and operator commands", () => {
    const result = spawnSync(process.execPath, [join(ROOT, packageJson.bin.dynamo as string), "--help"], { encoding: "utf8", timeout: 30_000 });
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /^\s+node\s/m);
    assert.match(result.stdout, /^\s+operator\s/m);
  });
});

describe(".dockerignore reader", () => {
  it("excludes folders with everything under them, honours ! and lets the last match win", () => {
    const rules = "node_modules\n*.log\n!keep.log\ndocs/**/*.png\n";
    assert.ok(isIgnored(rules, "node_modules/x/y.js"));
    assert.ok(isIgnored(rules, "a.log"));
    assert.ok(!isIgnored(rules, "keep.log"));
    assert.ok(!isIgnored(rules, "src/a.log"), "* does not cross a folder boundary");
    assert.ok(isIgnored(rules, "docs/img/deep/a.png"));
    assert.ok(!isIgnored(rules, "node_modulesx"));
  });
});
