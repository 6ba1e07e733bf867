// Copies the generated CRD (crds/dynamoclusters.yaml, from `npm run gen:crds`) into the chart as JSON.
//
// A chart cannot read files outside its own directory, so it keeps a copy; test/unit/packaging checks the copy has not
// drifted. The copy is JSON rather than YAML because Helm and kubectl read YAML with YAML 1.1 rules, under which an
// unquoted `n` (a bucket's replication factor, a property name in the schema) means `false`; JSON has one reading.
// Usage: node charts/sync-crd.mjs
import { readFileSync, writeFileSync } from "node:fs";
import { parse } from "yaml";

const source = new URL("../crds/dynamoclusters.yaml", import.meta.url);
const target = new URL("./dynamo-operator/files/crds/dynamoclusters.json", import.meta.url);
const crd = parse(readFileSync(source, "utf8"));
writeFileSync(target, JSON.stringify(crd, null, 2) + "\n");
process.stdout.write(`sync-crd: wrote ${target.pathname}\n`);
