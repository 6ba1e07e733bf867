// Copies the files the compiled code reads at run time but tsc does not emit (the console's static page) into dist/,
// next to the JavaScript that serves them. Run by `npm run build` and by ensure-built.
import { cpSync, existsSync } from "node:fs";

const root = new URL("..", import.meta.url);
const assets = ["node/console/static"];

for (const dir of assets) {
  const from = new URL(dir, root);
  if (!existsSync(from)) throw new Error(`copy-assets: ${dir} is missing`);
  cpSync(from, new URL(`dist/${dir}`, root), { recursive: true });
}
