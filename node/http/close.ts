/**
 * Closing an HTTP server at the end of a planned stop, when the node has drained and new requests are answered with a
 * retryable 503 (../lifecycle).
 */
import type { Server } from "node:http";
import type { Server as TlsServer } from "node:https";

/**
 * Stops accepting connections and closes the idle ones at once (`close` does both), gives the connections with a
 * request in progress up to `graceMs` to be answered, and then cuts whatever is left. Cut at once, a request that
 * arrived in the same turn as the stop went unanswered: the client saw its connection closed after sending a write,
 * which it cannot tell from a write that was stored, so a rolling restart failed that write. Answered, it gets the
 * drain's 503, which the client retries on another node. An idle connection closed as a request goes out on it is one
 * the client knows to retry.
 */
export async function closeServer(server: Server | TlsServer | undefined, graceMs = 0): Promise<void> {
  if (!server || !server.listening) return;
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  if (graceMs > 0) {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([closed, new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
  }
  server.closeAllConnections();
  await closed;
}
