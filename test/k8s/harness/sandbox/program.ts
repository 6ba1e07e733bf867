/**
 * A program that runs inside a sandbox of its own (`npm run k8s:up`, the scale measurement): started on the host, it
 * prepares the run and launches itself inside; inside, it runs its main. One file serves both sides, so such a program
 * is started like any other script.
 */
import type { Server } from "node:net";
import { launchSandbox } from "./launcher.js";
import { prepareRun } from "./prepare.js";
import { SANDBOX_ENV } from "./sandbox-info.js";

export interface SandboxProgramOptions {
  /** The program's own file (import.meta.url's path), which the sandbox runs. */
  entry: string;
  args?: string[];
  apiForward?: () => Promise<Server>;
  onStarted?: (initPid: number) => void;
}

export async function sandboxProgram(options: SandboxProgramOptions, main: () => Promise<number>): Promise<never> {
  let code: number;
  try {
    if (process.env[SANDBOX_ENV]) {
      code = await main();
    } else {
      const { binDir, images } = await prepareRun();
      code = await launchSandbox({
        command: [process.execPath, "--import", "tsx", options.entry, ...(options.args ?? process.argv.slice(2))],
        binDir,
        images,
        keep: process.env.DYNAMO_K8S_KEEP === "1",
        apiForward: await options.apiForward?.(),
        onStarted: options.onStarted,
      });
    }
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    code = 1;
  }
  process.exit(code);
}
