// Client load through one URL (a DynamoCluster's client Service), for the autoscaling tests.
import type { DynamoClient } from "../../../client/index.js";
import { sleep } from "../harness/index.js";

/** Writes and reads through one client from many connections at once until stopped. */
export class ServiceLoad {
  private running = true;
  private readonly loops: Promise<void>[] = [];
  requests = 0;
  failures = 0;

  /**
   * `client` should allow one socket per load client: each connection is routed to a pod when kube-proxy's rules see
   * it open, so the load spreads. Each client cycles through `keysPerClient` small keys: the load is requests, not data,
   * so a scale step moves little.
   */
  constructor(
    private readonly client: DynamoClient,
    private readonly options: { clients: number; keysPerClient: number; valueBytes: number },
  ) {}

  start(): void {
    const value = "v".repeat(this.options.valueBytes);
    for (let c = 0; c < this.options.clients; c++) {
      this.loops.push(
        (async () => {
          for (let i = 0; this.running; i++) {
            const key = `load-${c}-${i % this.options.keysPerClient}`;
            try {
              await this.client.put("default", key, value);
              await this.client.get("default", key);
              this.requests += 2;
            } catch {
              this.failures++;
              await sleep(100);
            }
          }
        })(),
      );
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    this.client.close();
  }
}
