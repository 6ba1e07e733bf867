/**
 * Runs a script inside a fresh network lab: creates the lab, starts the script in the client namespace (so every
 * connection it opens to a node crosses the lab's links and faults) with the lab's description in DYNAMO_NETLAB,
 * streams its output, and removes the lab when the script ends — or, through the reaper, when this process dies.
 * The script ends itself when its standard input closes, so it never outlives its launcher.
 */
import { once } from "node:events";
import { resolve } from "node:path";
import { NetLab } from "./lab.js";

const REPO_ROOT = resolve(new URL("../..", import.meta.url).pathname);

export interface LabRun {
  code: number;
  /** The script's standard output. */
  output: string;
  lab: NetLab;
}

export interface LaunchOptions {
  nodes: number;
  /** Receives each line the script prints (standard output and error), as it prints it. */
  onLine?: (line: string) => void;
  /** Called once the lab exists, before the script starts (e.g. to print the run id). */
  onLab?: (lab: NetLab) => void;
}

/** Runs `script` (a TypeScript file, through tsx) with `args` in a new lab of `nodes` node namespaces. */
export async function runInLab(script: string, args: string[], options: LaunchOptions): Promise<LabRun> {
  const lab = await NetLab.create({ nodes: options.nodes });
  options.onLab?.(lab);
  try {
    const child = lab.spawn(lab.description.client, [process.execPath, "--import", "tsx", resolve(REPO_ROOT, script), ...args], {
      cwd: REPO_ROOT,
      stdio: ["pipe", "pipe", "pipe"],
      env: { ...process.env, DYNAMO_NETLAB: JSON.stringify(lab.description) },
    });
    let output = "";
    const lines = (stream: NodeJS.ReadableStream, keep: boolean) => {
      let partial = "";
      stream.on("data", (chunk: Buffer) => {
        const text = partial + chunk.toString();
        const parts = text.split("\n");
        partial = parts.pop() ?? "";
        for (const line of parts) {
          if (keep) output += line + "\n";
          options.onLine?.(line);
        }
      });
      stream.on("end", () => {
        if (partial) {
          if (keep) output += partial;
          options.onLine?.(partial);
        }
      });
    };
    lines(child.stdout!, true);
    lines(child.stderr!, false);
    const [code, signal] = (await once(child, "exit")) as [number | null, NodeJS.Signals | null];
    return { code: code ?? (signal ? 128 : 1), output, lab };
  } finally {
    await lab.destroy();
  }
}

/** For scripts started by `runInLab`: exit when the launcher goes away (its pipe to our standard input closes). */
export function exitWithLauncher(onExit: () => Promise<void> | void = () => undefined): void {
  process.stdin.on("end", () => {
    void Promise.resolve(onExit()).finally(() => process.exit(130));
  });
  process.stdin.resume();
}
