/**
 * The HTTP client library for the store's Client HTTP API (DESIGN.md §2): `DynamoClient` for applications, the CLI
 * and the benchmark, `DynamoClientError` for every failure, and the result types of each call.
 */
export { DynamoClient, DEFAULT_CLIENT_OPTIONS } from "./client.js";
export type { DynamoClientOptions, GetOptions, PutOptions, DeleteOptions } from "./client.js";
export { DynamoClientError } from "./errors.js";
export type { ClientSideErrorCode } from "./errors.js";
export type { GetResult, Sibling, WriteResult, DeleteResult } from "./response.js";
export { DEFAULT_ROUTING_OPTIONS } from "./routing.js";
export type { RoutingOptions } from "./routing.js";
