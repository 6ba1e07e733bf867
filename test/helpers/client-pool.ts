/**
 * One DynamoClient per node URL, made on first use, for workloads that choose the node of every request themselves
 * (so a timeline can say which node coordinated it). Closing the pool closes them all.
 */
import { DynamoClient } from "../../client/index.js";

export class ClientPool {
  private readonly clients = new Map<string, DynamoClient>();

  constructor(private readonly timeoutMs = 5000) {}

  get(url: string): DynamoClient {
    let client = this.clients.get(url);
    if (!client) {
      client = new DynamoClient(url, { timeoutMs: this.timeoutMs });
      this.clients.set(url, client);
    }
    return client;
  }

  close(): void {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }
}
