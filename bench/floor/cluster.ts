/**
 * Starts the floor: `nodes` processes of bench/floor/node.ts on loopback, each peered with all the others, so a
 * request to any of them travels client -> front -> two peers and back, like a store request through its coordinator
 * to the other two replicas of n=3. Separate processes, like the store's nodes, so neither setup gets cores the
 * other does not.
 */
import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

const NODE_SCRIPT = fileURLToPath(new URL("./node.ts", import.meta.url));
const START_TIMEOUT_MS = 30_000;

export interface FloorCluster {
  /** Client URLs, one per process. */
  urls: string[];
  /** The processes' ids, for the CPU they spend. */
  pids: number[];
  stop(): Promise<void>;
}

interface Listening {
  type: "listening";
  clientUrl: string;
  peerPort: number;
}

function nextMessage<T extends { type: string }>(child: ChildProcess, type: T["type"]): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`floor node did not send '${type}' within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
    const onExit = (code: number | null): void => {
      clearTimeout(timer);
      reject(new Error(`floor node exited with code ${code} before sending '${type}'`));
    };
    const onMessage = (message: { type?: string }): void => {
      if (message.type !== type) return;
      clearTimeout(timer);
      child.off("message", onMessage);
      child.off("exit", onExit);
      resolve(message as T);
    };
    child.on("message", onMessage);
    child.once("exit", onExit);
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    // Closing the IPC channel is the node's signal to exit; SIGTERM covers a node that is stuck.
    if (child.connected) child.disconnect();
    child.kill("SIGTERM");
  });
}

/** `runtime` is the `node` binary the processes run (bench/runtime.ts); this process's by default. */
export async function startFloor(options: { nodes: number; valueBytes: number; runtime?: string }): Promise<FloorCluster> {
  const children = Array.from({ length: options.nodes }, () =>
    fork(NODE_SCRIPT, ["--value-bytes", String(options.valueBytes)], {
      execPath: options.runtime ?? process.execPath,
      execArgv: ["--import", "tsx"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    }),
  );
  const stop = async (): Promise<void> => {
    await Promise.all(children.map(stopChild));
  };
  try {
    const listening = await Promise.all(children.map((child) => nextMessage<Listening>(child, "listening")));
    const ready = children.map((child) => nextMessage(child, "ready"));
    children.forEach((child, i) => {
      child.send({ type: "peers", peerPorts: listening.filter((_, j) => j !== i).map((l) => l.peerPort) });
    });
    await Promise.all(ready);
    return { urls: listening.map((l) => l.clientUrl), pids: children.map((child) => child.pid).filter((pid): pid is number => pid !== undefined), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
