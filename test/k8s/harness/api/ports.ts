/**
 * A free TCP port in the sandbox's network namespace, for a listener a test starts (an operator's metrics): the
 * system picks an unused port for a listener bound to port 0, and closing it hands the number to the caller.
 */
import { createServer } from "node:net";

export function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
