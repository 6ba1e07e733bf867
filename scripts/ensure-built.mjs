// Makes `npm start`, `npm test` and `npm run bench` work on a fresh clone: installs the locked dependencies when
// node_modules is missing or older than package-lock.json, and compiles the TypeScript sources when any of them is
// newer than the last build. Plain JavaScript on purpose: it must run before anything is installed.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const sourceDirs = ["node", "operator", "driver", "dev", "cli", "client", "kubectl"];

function run(cmd, args) {
  const result = spawnSync(cmd, args, { cwd: root, stdio: ["ignore", "inherit", "inherit"] });
  if (result.status !== 0) {
    console.error(`ensure-built: '${cmd} ${args.join(" ")}' failed with exit code ${result.status}`);
    process.exit(result.status ?? 1);
  }
}

function newestMtime(dir) {
  let newest = 0;
  if (!existsSync(dir)) return newest;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(path));
    else if (entry.name.endsWith(".ts") || dir.includes("static")) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

const installStamp = join(root, "node_modules", ".package-lock.json");
if (!existsSync(installStamp) || statSync(installStamp).mtimeMs < statSync(join(root, "package-lock.json")).mtimeMs) {
  console.error("ensure-built: installing dependencies (npm ci)...");
  run("npm", ["ci", "--no-audit", "--no-fund"]);
}

const buildStamp = join(root, "dist", ".build-stamp");
const sourcesMtime = Math.max(...sourceDirs.map((d) => newestMtime(join(root, d))), statSync(join(root, "tsconfig.json")).mtimeMs);
if (!existsSync(buildStamp) || statSync(buildStamp).mtimeMs < sourcesMtime) {
  console.error("ensure-built: compiling TypeScript...");
  run("npx", ["tsc", "-p", "tsconfig.build.json"]);
  run("node", ["scripts/copy-assets.mjs"]);
  writeFileSync(buildStamp, String(Date.now()));
}
