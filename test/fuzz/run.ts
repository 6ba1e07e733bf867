/**
 * `npm run test:fuzz -- [--target client,peer] [--seconds 60] [--seed N] [--round R] [--nodes 3] [--client-tls]
 * [--client-tokens]`: a fuzz campaign against a fresh local cluster, each target for --seconds in turn. Prints the
 * seed first and a summary per target; exits 1 when anything was found, with the round that found it, so that
 * `--seed N --target T --round R` replays exactly that attack.
 */
import { parseArgs } from "node:util";
import { startFuzzCluster } from "./cluster.js";
import { runFuzz, summarize } from "./harness.js";
import { TARGETS } from "./targets.js";

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      target: { type: "string" },
      seconds: { type: "string" },
      seed: { type: "string" },
      round: { type: "string" },
      nodes: { type: "string" },
      "client-tls": { type: "boolean" },
      "client-tokens": { type: "boolean" },
    },
    strict: true,
  });
  const names = (values.target ?? Object.keys(TARGETS).join(",")).split(",").filter(Boolean);
  for (const name of names) if (!TARGETS[name]) throw new Error(`unknown target '${name}': targets are ${Object.keys(TARGETS).join(", ")}`);
  const seconds = Number(values.seconds ?? 60);
  const seed = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31);
  const round = values.round !== undefined ? Number(values.round) : undefined;
  if (!Number.isFinite(seconds) || seconds <= 0 || !Number.isInteger(seed) || (round !== undefined && !Number.isInteger(round))) {
    throw new Error("--seconds must be a positive number, --seed and --round whole numbers");
  }
  console.log(`fuzz: seed ${seed}, targets ${names.join(", ")}, ${seconds} s each${round !== undefined ? `, round ${round} only` : ""}`);
  const running = await startFuzzCluster({ nodes: values.nodes ? Number(values.nodes) : 3, clientTls: values["client-tls"], clientTokens: values["client-tokens"] });
  const stop = () => void running.destroy().then(() => process.exit(130));
  process.once("SIGINT", stop);
  let findings = 0;
  try {
    for (const name of names) {
      const report = await runFuzz(TARGETS[name]!, running.target, { seed, seconds, round, log: (line) => console.log(line) });
      console.log(summarize(report));
      for (const finding of report.findings) console.log(`  finding: ${finding}`);
      findings += report.findings.length;
    }
  } finally {
    process.off("SIGINT", stop);
    await running.destroy();
  }
  return findings > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(`fuzz: ${err.message}`);
    process.exit(2);
  },
);
