// Free TCP ports on the loopback interface for the control plane's listeners. The operating system
// picks an unused port for a listener bound to port 0; closing it hands the number to the caller. A
// port could in principle be taken again in between, which a start-up failure would then report.
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
