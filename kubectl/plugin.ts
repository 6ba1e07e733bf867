/**
 * `kubectl dynamo` (the `kubectl-dynamo` executable kubectl finds on PATH; also `dynamo kubectl ...`): see and steer
 * DynamoClusters from a workstation. Commands: status, ring, replace, pause, resume, rebalance, report. Global flags as
 * kubectl has them: -n/--namespace, --context, --kubeconfig. Exit codes as the `dynamo` CLI: 0 ok, 1 runtime
 * failure, 2 bad usage, with a one-line message on stderr.
 */
import { UsageError, command, matching, parseCommand, wholeNumber, type Command } from "../lib/command-line.js";
import { colourWanted, percentBar, style } from "../lib/terminal.js";
import { DynamoError } from "../node/errors/index.js";
import { formatBytes, formatDuration, percentMoved, rebalanceSeconds } from "../node/ring/index.js";
import { REPLACE_ANNOTATION } from "../operator/api/index.js";
import { objectPath } from "../operator/kube/api-client.js";
import { LABEL_INSTANCE, LABEL_NAME } from "../operator/resources/index.js";
import { gatherStatus } from "./model.js";
import { renderRing, renderStatus, ringJson } from "./render.js";
import { writeReport } from "./report.js";
import { Session, type NodeAccess } from "./session.js";

export const PLUGIN_USAGE = `usage: kubectl dynamo <command> [flags]
commands:
  status NAME               the whole story of a cluster: members, rebalance progress, hints, anti-entropy, events, advice
  ring NAME [-o json]       the ring drawn as cells coloured by owner, moves in flight marked
  replace POD               wipe a storage node and rebuild it from the other replicas (annotates the pod)
  pause NAME | resume NAME  stop the operator from changing the cluster, and let it again
  rebalance NAME [--watch]  progress of the ring change in flight; --watch follows it until it finishes
  report NAME [-f FILE]     a support bundle (.tar.gz): objects, events, node views, logs; secrets redacted
flags:
  -n, --namespace NS        the namespace (default: the context's, else "default")
      --context NAME        the kubeconfig context to use
      --kubeconfig FILE     the kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)
      --node-access MODE    how nodes are reached: proxy (through the API server, the default) or direct (pod IPs)`;

const COMMANDS = ["status", "ring", "replace", "pause", "resume", "rebalance", "report"];

interface Flags {
  namespace?: string;
  context?: string;
  kubeconfig?: string;
  nodeAccess: NodeAccess;
  output?: "json";
  watch?: boolean;
  file?: string;
  intervalMs: number;
}

/** The plugin's command line: flags anywhere on the line, as kubectl's own; the command and its target positional. */
function pluginCommand(): Command {
  return command("kubectl", "See and steer DynamoClusters from a workstation.")
    .name("kubectl dynamo")
    .usage("<command> NAME [flags]")
    .argument("[command]", `one of ${COMMANDS.join(", ")}`)
    .argument("[target]", "the DynamoCluster (for replace: the pod)")
    .allowExcessArguments(false)
    .option("-n, --namespace <ns>", "the namespace (default: the context's, else \"default\")")
    .option("--context <name>", "the kubeconfig context to use")
    .option("--kubeconfig <file>", "the kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)")
    .option("--node-access <mode>", "how nodes are reached: proxy (through the API server) or direct (pod IPs)", matching("node-access", /^(proxy|direct)$/, "proxy or direct"), "proxy")
    .option("-o, --output <format>", "json: the same as data", matching("output", /^json$/, "json"))
    .option("-w, --watch", "rebalance: follow the ring change until it finishes")
    .option("-f, --file <file>", "report: where to write the bundle")
    .option("--interval-ms <ms>", "rebalance --watch: how often to look", wholeNumber("interval-ms", 100, 3_600_000), 1000);
}

/** What the command line asks for: the usage, or a command on a target with its flags. Bad usage is a UsageError. */
export type PluginInvocation = { help: true } | { help?: undefined; command: string; target: string; flags: Flags };

export function parsePluginCommandLine(argv: readonly string[]): PluginInvocation {
  let parsed;
  try {
    parsed = parseCommand<Flags>(pluginCommand(), argv, {});
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n${PLUGIN_USAGE}`);
  }
  if (parsed.help !== undefined) return { help: true };
  const [command, target] = parsed.args;
  if (command === "help") return { help: true };
  if (!command) throw new UsageError(`no command given\n${PLUGIN_USAGE}`);
  if (!COMMANDS.includes(command)) throw new UsageError(`unknown command '${command}'\n${PLUGIN_USAGE}`);
  if (!target) throw new UsageError(`usage: kubectl dynamo ${command} ${command === "replace" ? "POD" : "NAME"}`);
  return { command, target, flags: parsed.options };
}

export async function runKubectlPlugin(argv: string[], out: NodeJS.WriteStream = process.stdout): Promise<number> {
  const invocation = parsePluginCommandLine(argv);
  if (invocation.help) {
    out.write(PLUGIN_USAGE + "\n");
    return 0;
  }
  const { command, target, flags } = invocation;
  const nodeAccess = flags.nodeAccess;
  const session = new Session({ kubeconfig: flags.kubeconfig, context: flags.context, namespace: flags.namespace, nodeAccess });
  const s = style(colourWanted(out));

  switch (command) {
    case "status": {
      const model = await gatherStatus(session, target);
      if (flags.output === "json") {
        const { cluster: _cluster, pods: _pods, ...rest } = model;
        out.write(JSON.stringify(rest, null, 2) + "\n");
      } else out.write(renderStatus(model, s));
      return 0;
    }
    case "ring": {
      const model = await gatherStatus(session, target, { eventsMax: 0 });
      out.write(flags.output === "json" ? JSON.stringify(ringJson(model), null, 2) + "\n" : renderRing(model, s));
      return 0;
    }
    case "pause":
    case "resume": {
      await session.cluster(target);
      await session.api.mergePatch(session.clusterPath(target), { spec: { paused: command === "pause" } });
      out.write(command === "pause" ? `${target} paused: the operator only observes and reports until 'kubectl dynamo resume ${target}'\n` : `${target} resumed: the operator acts on it again\n`);
      return 0;
    }
    case "replace":
      return replace(session, target, out);
    case "rebalance":
      return rebalance(session, target, flags, out);
    case "report": {
      const file = flags.file ?? `dynamo-report-${target}-${new Date().toISOString().replace(/[:.]/g, "").slice(0, 15)}.tar.gz`;
      const result = await writeReport(session, target, file);
      out.write(`wrote ${result.path}: ${result.files.length} files${result.problems.length ? `; ${result.problems.length} parts could not be collected (see problems.txt)` : ""}\n`);
      return 0;
    }
    default:
      throw new UsageError(`unknown command '${command}'`);
  }
}

async function replace(session: Session, podName: string, out: NodeJS.WriteStream): Promise<number> {
  const pod = await session.pod(podName);
  if (!pod) throw new DynamoError("not_found", `no pod '${podName}' in namespace ${session.namespace}`);
  const cluster = pod.metadata.labels?.[LABEL_INSTANCE];
  if (pod.metadata.labels?.[LABEL_NAME] !== "dynamo" || !cluster) throw new DynamoError("invalid_request", `pod ${podName} is not a storage node of a DynamoCluster`);
  await session.api.mergePatch(objectPath("v1", "pods", session.namespace, podName), { metadata: { annotations: { [REPLACE_ANNOTATION]: "true" } } });
  out.write(
    `${podName} is marked for replacement: once the cluster is healthy the operator deletes its claim and pod, and it comes back empty and rebuilds from the other replicas.\n` +
      `Follow it with: kubectl dynamo status ${cluster} -n ${session.namespace}\n`,
  );
  return 0;
}

/** Prints the rebalance once, or with --watch follows it (a line per change, or one line redrawn at a terminal). */
async function rebalance(session: Session, name: string, flags: Flags, out: NodeJS.WriteStream): Promise<number> {
  const intervalMs = flags.intervalMs;
  const tty = out.isTTY === true;
  const s = style(colourWanted(out));
  let last = "";
  let sawRunning = false;
  for (;;) {
    const cluster = await session.cluster(name);
    const r = cluster.status?.rebalance;
    const running = r !== undefined && r.finishTime === undefined;
    sawRunning ||= running;
    let line: string;
    if (!r) line = `${name}: no ring change has run yet (phase ${cluster.status?.phase ?? "unknown"})`;
    else if (running) {
      const eta = r.etaSeconds !== undefined ? `ETA ${formatDuration(r.etaSeconds)}` : "ETA unknown";
      const rate = r.bytesPerSecond !== undefined ? ` at ${formatBytes(r.bytesPerSecond)}/s` : "";
      line = `${name} epoch ${r.epoch} ${percentBar(percentMoved(r), 24)}  ${r.partitionsMoved}/${r.partitionsTotal} partitions, ${formatBytes(r.bytesMoved)}${rate}, ${eta}`;
    } else {
      const seconds = rebalanceSeconds(r);
      line = `${name} epoch ${r.epoch}: ${sawRunning ? "finished" : "last rebalance finished"}, moved ${r.partitionsTotal} partitions (${formatBytes(r.bytesMoved)})${seconds !== undefined ? ` in ${formatDuration(seconds)}` : ""}`;
    }
    if (line !== last) {
      out.write(tty && flags.watch ? `\r\u001b[2K${running ? s.yellow(line) : s.green(line)}` : `${line}\n`);
      last = line;
    }
    if (!flags.watch || (!running && (sawRunning || cluster.status?.phase === "Stable"))) {
      if (tty && flags.watch) out.write("\n");
      return 0;
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** The exit code for an error, after printing its one-line message (and the usage, for bad usage). */
export function failure(err: unknown): number {
  const message = (err as Error)?.message ?? String(err);
  process.stderr.write(`kubectl-dynamo: ${message.split("\n")[0]}\n`);
  if (err instanceof UsageError && message.includes("\n")) process.stderr.write(message.slice(message.indexOf("\n") + 1) + "\n");
  return err instanceof UsageError || (err instanceof DynamoError && err.code === "invalid_request") ? 2 : 1;
}
