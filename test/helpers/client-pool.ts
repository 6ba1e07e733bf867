/**
 * One DynamoClient per node URL, made on first use, for workloads that choose the node of every request themselves
 * (so a timeline can say which node coordinated it). Closing the pool closes them all.
 *
 * `options` (TLS and token settings) is asked before every request: a new object (say, after the published CA changed)
 * replaces the clients made with the old one, as an application that reloads its CA file would. Requests in flight
 * keep their sockets; the old clients are only closed with the pool.
 */
import { DynamoClient, type DynamoClientOptions } from "../../client/index.js";

export class ClientPool {
  private readonly clients = new Map<string, DynamoClient>();
  private readonly retired: DynamoClient[] = [];
  private current: DynamoClientOptions | undefined;

  constructor(
    private readonly timeoutMs = 5000,
    private readonly options: () => DynamoClientOptions | undefined = () => undefined,
  ) {}

  get(url: string): DynamoClient {
    const options = this.options();
    if (options !== this.current) {
      this.retired.push(...this.clients.values());
      this.clients.clear();
      this.current = options;
    }
    let client = this.clients.get(url);
    if (!client) {
      client = new DynamoClient(url, { ...options, timeoutMs: this.timeoutMs });
      this.clients.set(url, client);
    }
    return client;
  }

  close(): void {
    for (const client of [...this.clients.values(), ...this.retired]) client.close();
    this.clients.clear();
    this.retired.length = 0;
  }
}
