/**
 * What the load generator drives: one key-value system behind its own client. The runner only reads, inserts and
 * updates records through this interface, so the store, its floor and the peers of `npm run bench:peers` (Cassandra,
 * etcd, Redis) all see exactly the same closed-loop clients and key sequence. Each system adds only how a request is
 * sent and how its failures are named.
 */
import { DynamoClientError, type DynamoClient } from "../../client/index.js";

export interface KvTarget {
  /** Reads a record; rejects when the read fails or the record is missing (every record was loaded first). */
  read(key: string): Promise<void>;
  /** Writes a record that may not exist yet, blind: the load phase. */
  insert(key: string, value: Buffer): Promise<void>;
  /** Replaces a record's value the way this system's users update one. */
  update(key: string, value: Buffer): Promise<void>;
  /** A short, stable name for a failure (`timeout`, `unavailable`, ...), for the errors-by-kind figures. */
  errorKind(error: unknown): string;
}

/** The failure of a read that found no record: a lost write, since the load phase wrote every record. */
export class RecordMissingError extends Error {
  readonly code = "not_found";

  constructor(key: string) {
    super(`record ${key} not found`);
    this.name = "RecordMissingError";
  }
}

/**
 * A name for an error that carries a string `code` (DynamoClientError, RecordMissingError, Node's system errors), else
 * its class name in snake case without the `Error` suffix (`OperationTimedOutError` -> `operation_timed_out`).
 */
export function genericErrorKind(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === "string" && code !== "") return code;
    const name = error.constructor.name === "Error" ? error.name : error.constructor.name;
    return snakeCase(name.replace(/Error$/, "")) || "exception";
  }
  return "exception";
}

export function snakeCase(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1_$2")
    .toLowerCase();
}

export type DynamoUpdateMode =
  /** Read the key, then write with the context the read returned: the Dynamo-native update of a siblings bucket. */
  | "read-modify-write"
  /** Write without a context, as Cassandra, etcd and Redis clients update; right for an `lww` bucket. */
  | "blind";

const CONTENT_TYPE = "application/octet-stream";

/** The store (or anything speaking its Client HTTP API, like the floor) through `DynamoClient`. */
export function dynamoTarget(client: DynamoClient, bucket: string, updateMode: DynamoUpdateMode): KvTarget {
  return {
    async read(key) {
      const result = await client.get(bucket, key);
      if (result.kind === "not_found") throw new RecordMissingError(key);
    },
    async insert(key, value) {
      await client.put(bucket, key, value, { contentType: CONTENT_TYPE });
    },
    async update(key, value) {
      if (updateMode === "blind") {
        await client.put(bucket, key, value, { contentType: CONTENT_TYPE });
        return;
      }
      const current = await client.get(bucket, key);
      // A missing record is written blind (or over its tombstone's context): the update still happens, as in YCSB.
      await client.put(bucket, key, value, { context: current.context, contentType: CONTENT_TYPE });
    },
    errorKind: (error) => (error instanceof DynamoClientError ? error.code : genericErrorKind(error)),
  };
}
