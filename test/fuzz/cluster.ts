/**
 * The cluster a fuzz campaign attacks: a real `dynamo dev` cluster (peer TLS as always; client TLS and client tokens
 * when asked for) with the fuzz configuration, its sentinel keys written, described as the harness needs it.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readDevState } from "../../dev/state.js";
import { generateClientToken, hashClientToken } from "../../node/http/index.js";
import { REPO_ROOT, TestCluster } from "../helpers/dev-cluster.js";
import { writeSentinels, type FuzzCluster } from "./harness.js";

export const FUZZ_CONFIG = join(REPO_ROOT, "test", "integration", "fixtures", "fuzz.yaml");

export interface FuzzClusterOptions {
  nodes?: number;
  clientTls?: boolean;
  clientTokens?: boolean;
}

export interface RunningFuzzCluster {
  cluster: TestCluster;
  target: FuzzCluster;
  destroy(): Promise<void>;
}

export async function startFuzzCluster(options: FuzzClusterOptions = {}): Promise<RunningFuzzCluster> {
  const env: Record<string, string> = {};
  let token: string | undefined;
  let tokensDir: string | undefined;
  if (options.clientTokens) {
    token = generateClientToken();
    tokensDir = mkdtempSync(join(tmpdir(), "dynamo-test-fuzz-tokens-"));
    env.DYNAMO_CLIENT_TOKENS_FILE = join(tokensDir, "tokens.yaml");
    writeFileSync(env.DYNAMO_CLIENT_TOKENS_FILE, `tokens:\n  - { name: fuzzer, sha256: ${hashClientToken(token)}, grants: { "*": rw } }\n`, { mode: 0o600 });
  }
  const cleanUp = () => tokensDir && rmSync(tokensDir, { recursive: true, force: true });
  let cluster: TestCluster;
  try {
    cluster = await TestCluster.start({ nodes: options.nodes ?? 3, partitions: 32, config: FUZZ_CONFIG, clientTls: options.clientTls, env });
  } catch (err) {
    cleanUp();
    throw err;
  }
  const destroy = async () => {
    await cluster.destroy();
    cleanUp();
  };
  try {
    const nodes = cluster.nodes();
    const clientCa = readDevState(cluster.dataDir)?.clientCa;
    const target: FuzzCluster = {
      clientUrls: nodes.map((n) => n.clientUrl),
      peerUrls: nodes.map((n) => n.peerUrl),
      pids: nodes.map((n) => n.pid!),
      token: cluster.token,
      peerTls: cluster.peerTls!,
      client: { ca: clientCa ? readFileSync(clientCa) : undefined, token },
    };
    await writeSentinels(target);
    return { cluster, target, destroy };
  } catch (err) {
    await destroy();
    throw err;
  }
}
