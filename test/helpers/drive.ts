/**
 * Runs the RingDriver as its own process until the ring settles, printing one JSON line per step, so a test can
 * SIGKILL the driver mid-change and start another, as an operator crash would.
 * Usage: node --import tsx test/helpers/drive.ts <token> <client tls dir> <partitions> <targetN> <desired ids,> <id=peerUrl=clientUrl>...
 */
import { AdminClient, RingDriver } from "../../driver/index.js";
import { TlsDir } from "../../node/tls/index.js";

const [token, tlsDir, partitions, targetN, desired, ...nodeArgs] = process.argv.slice(2);
const tls = TlsDir.load(tlsDir!);
const nodes = nodeArgs.map((arg) => {
  const [id, peerUrl, clientUrl] = arg.split("=");
  return { id: id!, peerUrl: peerUrl!, clientUrl: clientUrl! };
});
const driver = new RingDriver({ admin: new AdminClient(token!, 5000, () => tls.clientOptions()), partitions: Number(partitions), targetN: Number(targetN), log: () => undefined });
for (;;) {
  const result = await driver.step(nodes, desired!.split(","));
  process.stdout.write(JSON.stringify({ epoch: result.ring?.epoch, done: result.done, action: result.action, transfers: result.transfers, removable: result.removable }) + "\n");
  if (result.done) break;
  await new Promise((r) => setTimeout(r, Math.min(result.retryAfterMs, 300)));
}
