/**
 * One DynamoClient per node URL, made on first use, for workloads that choose the node of every request themselves
 * (so a timeline can say which node coordinated it). A client may be given other nodes to fail over to (DynamoClient
 * moves on only from a request that was not served); it is keyed by the whole list, so when the nodes' addresses
 * change (pods recreated) a client with the new ones is made. Closing the pool closes them all.
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

  get(url: string, failoverTo: readonly string[] = []): DynamoClient {
    const options = this.options();
    if (options !== this.current) {
      this.retired.push(...this.clients.values());
      this.clients.clear();
      this.current = options;
    }
    const key = [url, ...failoverTo].join(" ");
    let client = this.clients.get(key);
    if (!client) {
      client = new DynamoClient([url, ...failoverTo], { ...options, timeoutMs: this.timeoutMs });
      this.clients.set(key, client);
    }
    return client;
  }

  close(): void {
    for (const client of [...this.clients.values(), ...this.retired]) client.close();
    this.clients.clear();
    this.retired.length = 0;
  }
}
