/**
 * The files a local cluster keeps under its data directory: `dev.json` (how to reach the running supervisor and its
 * nodes, rewritten whenever a node starts or stops, removed on exit) and `token` (the cluster token, created once
 * with owner-only permissions), and the call to the supervisor's control API that both make possible.
 */
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DynamoError } from "../node/errors/index.js";

export interface DevNodeState {
  id: string;
  pid: number | null;
  clientUrl: string;
  peerUrl: string;
  dataDir: string;
}

export interface DevState {
  control: string;
  pid: number;
  /** The CA certificate to trust for the nodes' https client ports (`dynamo dev --client-tls`); absent for plain HTTP. */
  clientCa?: string;
  nodes: DevNodeState[];
}

export function devStatePath(dataDir: string): string {
  return join(dataDir, "dev.json");
}

export function writeDevState(dataDir: string, state: DevState): void {
  // Write-then-rename, so a reader never sees half a file.
  const path = devStatePath(dataDir);
  writeFileSync(`${path}.tmp`, JSON.stringify(state, null, 2) + "\n");
  renameSync(`${path}.tmp`, path);
}

export function readDevState(dataDir: string): DevState | undefined {
  const path = devStatePath(dataDir);
  if (!existsSync(path)) return undefined;
  return JSON.parse(readFileSync(path, "utf8")) as DevState;
}

export function ensureToken(dataDir: string): { path: string; token: string } {
  const path = join(dataDir, "token");
  if (!existsSync(path)) writeFileSync(path, randomBytes(24).toString("hex") + "\n", { mode: 0o600 });
  return { path, token: readFileSync(path, "utf8").trim() };
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Calls the control API of the supervisor running from `dataDir` (what `dynamo dev status|scale|...` do) and returns
 * its JSON answer; a cluster that is not running, cannot be reached or refuses says so as a DynamoError.
 */
export async function callControl(dataDir: string, method: string, path: string, body?: unknown): Promise<unknown> {
  const state = readDevState(dataDir);
  if (!state || !processAlive(state.pid)) {
    throw new DynamoError("unavailable", `no local cluster is running from ${dataDir}; start one with 'npm start' or 'dynamo dev'`);
  }
  const { token } = ensureToken(dataDir);
  let res: Response;
  try {
    res = await fetch(state.control + path, {
      method,
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10 * 60_000),
    });
  } catch (err) {
    throw new DynamoError("unavailable", `cannot reach the local cluster's control API at ${state.control}: ${(err as Error).message}`);
  }
  const json = (await res.json().catch(() => ({}))) as { error?: string; message?: string };
  if (!res.ok) throw new DynamoError((json.error ?? "internal") as DynamoError["code"], json.message ?? `HTTP ${res.status}`);
  return json;
}
