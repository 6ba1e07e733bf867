// Copies the generated CRDs (crds/*.yaml, from `npm run gen:crds`) into the chart as JSON.
//
// A chart cannot read files outside its own directory, so it keeps a copy; test/unit/packaging checks the copy has not
// drifted. The copy is JSON rather than YAML because Helm and kubectl read YAML with YAML 1.1 rules, under which an
// unquoted `n` (a bucket's replication factor, a property name in the schema) means `false`; JSON has one reading.
// Usage: node charts/sync-crd.mjs
import { readFileSync, writeFileSync } from "node:fs";
import { parse } from "yaml";

const CRD_FILES = ["dynamoclusters", "dynamobackups", "dynamoscheduledbackups"];

for (const file of CRD_FILES) {
  const source = new URL(`../crds/${file}.yaml`, import.meta.url);
  const target = new URL(`./dynamo-operator/files/crds/${file}.json`, import.meta.url);
  const crd = parse(readFileSync(source, "utf8"));
  writeFileSync(target, JSON.stringify(crd, null, 2) + "\n");
  process.stdout.write(`sync-crd: wrote ${target.pathname}\n`);
}
