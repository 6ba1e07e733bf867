/**
 * etcd 3.6, three members on loopback, from the binary the Kubernetes toolchain builds (test/k8s/toolchain/build.sh,
 * cached in ~/.cache/dynamo-k8s; built here when missing). Every write goes through Raft and is acknowledged once a
 * majority has fsynced it to its write-ahead log, in every mode. Client: etcd3 over gRPC, spreading requests over the
 * members; measured twice, with linearizable reads (the default; a read confirms leadership through the leader) and
 * with serializable reads (answered by the member that receives them, possibly stale).
 */
import { execFile } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Etcd3 } from "etcd3";
import { freePortBlock } from "../../../lib/local-cluster.js";
import { genericErrorKind, RecordMissingError, type KvTarget } from "../../ycsb/target.js";
import { ManagedProcess, sleep, waitForPort } from "../processes.js";
import { REQUEST_TIMEOUT_MS, START_TIMEOUT_MS, type PeerSystem, type RunningSystem, type StartContext, type Variant } from "./system.js";

const run = promisify(execFile);
const HOST = "127.0.0.1";
const MEMBERS = 3;
const TOOLCHAIN_SCRIPT = fileURLToPath(new URL("../../../test/k8s/toolchain/build.sh", import.meta.url));

export interface EtcdMember {
  name: string;
  clientPort: number;
  peerPort: number;
}

/** Member i listens for clients on base+2i and for peers on base+2i+1. */
export function etcdMembers(basePort: number, count = MEMBERS): EtcdMember[] {
  return Array.from({ length: count }, (_, i) => ({ name: `m${i + 1}`, clientPort: basePort + 2 * i, peerPort: basePort + 2 * i + 1 }));
}

/** The command line of one member of a new cluster of `members`. */
export function etcdMemberArgs(member: EtcdMember, members: readonly EtcdMember[], options: { dataDir: string; clusterToken: string }): string[] {
  const clientUrl = `http://${HOST}:${member.clientPort}`;
  const peerUrl = `http://${HOST}:${member.peerPort}`;
  return [
    "--name", member.name,
    "--data-dir", options.dataDir,
    "--listen-client-urls", clientUrl,
    "--advertise-client-urls", clientUrl,
    "--listen-peer-urls", peerUrl,
    "--initial-advertise-peer-urls", peerUrl,
    "--initial-cluster", members.map((m) => `${m.name}=http://${HOST}:${m.peerPort}`).join(","),
    "--initial-cluster-state", "new",
    "--initial-cluster-token", options.clusterToken,
    "--log-level", "warn",
  ]; // prettier-ignore
}

/** `etcd --version` prints "etcd Version: 3.6.8" first. */
export function parseEtcdVersion(output: string): string | undefined {
  return /etcd Version:\s*(\d+\.\d+\.\d+)/.exec(output)?.[1];
}

async function findEtcd(log: (line: string) => void): Promise<string> {
  try {
    const { stdout } = await run("bash", [TOOLCHAIN_SCRIPT, "--print"]);
    return join(stdout.trim(), "etcd");
  } catch {
    log("etcd: the Kubernetes toolchain is not built yet; building it (many minutes on two cores, cached afterwards)");
    const { stdout } = await run("bash", [TOOLCHAIN_SCRIPT], { maxBuffer: 64 * 1024 * 1024 });
    return join(stdout.trim().split("\n").pop() ?? "", "etcd");
  }
}

function etcdTarget(client: Etcd3, serializable: boolean): KvTarget {
  return {
    async read(key) {
      if ((await client.get(key).serializable(serializable).buffer()) === null) throw new RecordMissingError(key);
    },
    async insert(key, value) {
      await client.put(key).value(value);
    },
    async update(key, value) {
      await client.put(key).value(value);
    },
    errorKind: genericErrorKind,
  };
}

function newClient(members: readonly EtcdMember[]): Etcd3 {
  return new Etcd3({
    hosts: members.map((m) => `http://${HOST}:${m.clientPort}`),
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + REQUEST_TIMEOUT_MS }),
  });
}

/** Resolves once a write commits: the members have elected a leader. */
async function waitForLeader(client: Etcd3, deadline: number): Promise<void> {
  for (;;) {
    try {
      await client.put("bench-ready").value("1");
      await client.delete().key("bench-ready");
      return;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`etcd elected no leader in time: ${(error as Error).message}`);
      await sleep(250);
    }
  }
}

async function startEtcd(binary: string, context: StartContext): Promise<RunningSystem> {
  const members = etcdMembers(await freePortBlock(2 * MEMBERS));
  const clusterToken = `bench-${process.pid}-${Date.now()}`;
  const processes: ManagedProcess[] = [];
  const clients: Etcd3[] = [];
  const stop = async (): Promise<void> => {
    for (const client of clients) client.close();
    await Promise.all(processes.map((p) => p.stop()));
  };
  try {
    for (const member of members) {
      const dataDir = join(context.workDir, member.name);
      mkdirSync(dataDir, { recursive: true });
      processes.push(
        await ManagedProcess.spawn({
          name: `etcd-${member.name}`,
          command: binary,
          args: etcdMemberArgs(member, members, { dataDir, clusterToken }),
          logFile: join(context.workDir, `${member.name}.log`),
        }),
      );
    }
    const deadline = Date.now() + START_TIMEOUT_MS;
    await Promise.all(members.map((m, i) => waitForPort(processes[i]!, HOST, m.clientPort, START_TIMEOUT_MS)));
    const variantsFor = (live: readonly EtcdMember[]): Variant[] => {
      const client = newClient(live);
      clients.push(client);
      return [
        { label: "etcd", target: etcdTarget(client, false) },
        { label: "etcd-serializable", target: etcdTarget(client, true) },
      ];
    };
    const variants = variantsFor(members);
    await waitForLeader(clients[0]!, deadline);
    context.log(`etcd: ${MEMBERS} members, clients on ${members.map((m) => `${HOST}:${m.clientPort}`).join(" ")}`);
    return {
      variants,
      rootPids: () => processes.map((p) => p.pid),
      async stopOne() {
        await processes[MEMBERS - 1]!.crash();
        return variantsFor(members.slice(0, MEMBERS - 1));
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

export const etcd: PeerSystem = {
  name: "etcd",
  setup: `${MEMBERS} etcd members (Raft), etcd3 client over all members; rows for linearizable and serializable reads`,
  durability: () => "WAL fsync on a majority (2 of 3) before each write is acknowledged, batched across concurrent writes",
  async prepare(log) {
    const binary = await findEtcd(log);
    const { stdout } = await run(binary, ["--version"]);
    const version = parseEtcdVersion(stdout);
    if (version === undefined || !version.startsWith("3.")) throw new Error(`${binary} --version printed no etcd 3 version:\n${stdout}`);
    log(`etcd: ${binary} (${version})`);
    return { version: `etcd ${version}`, start: (context) => startEtcd(binary, context) };
  },
};
