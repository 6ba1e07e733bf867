// A tiny workload for the node tests, run with the Node.js of the project's own image (no other image is loaded): an
// HTTP server on port 8080 that reports its environment, identity and the files of the directories named in its
// environment, and answers small questions about its container, so a test can see exactly what the kubelet gave it.
// BEHAVIOUR selects extra behaviour: `exit-1` exits with status 1 at once, `exit-0` exits cleanly, `unhealthy-later`
// fails /healthz after two seconds, `ignore-sigterm` ignores SIGTERM, and by default SIGTERM writes a marker file into
// MARKER_DIR (a volume the test can read) before exiting 0.
import { dynamoImage } from "../harness/index.js";

export const TEST_SERVER_SCRIPT = `
const fs = require("node:fs");
const http = require("node:http");
const path = require("node:path");
const dns = require("node:dns/promises");
const behaviour = process.env.BEHAVIOUR || "";
if (behaviour === "exit-1") process.exit(1);
if (behaviour === "exit-0") process.exit(0);
const startedAt = Date.now();
const readDir = (dir) => {
  const out = {};
  if (!dir || !fs.existsSync(dir)) return out;
  for (const name of fs.readdirSync(dir)) {
    const file = path.join(dir, name);
    if (!name.startsWith(".") && fs.statSync(file).isFile()) out[name] = fs.readFileSync(file, "utf8");
  }
  return out;
};
const tryWrite = (file) => { try { fs.writeFileSync(file, "x"); return "written"; } catch (err) { return err.code; } };
const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, "http://x");
  if (url.pathname === "/healthz") {
    const healthy = behaviour !== "unhealthy-later" || Date.now() - startedAt < 2000;
    res.writeHead(healthy ? 200 : 500).end(healthy ? "ok" : "unhealthy");
    return;
  }
  if (url.pathname === "/resolve") {
    const name = url.searchParams.get("name");
    const answer = await dns.lookup(name, { all: true }).then((a) => ({ addresses: a.map((x) => x.address) }), (err) => ({ error: err.code }));
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(answer));
    return;
  }
  if (url.pathname === "/fetch") {
    const answer = await fetch(url.searchParams.get("url"), { signal: AbortSignal.timeout(5000) }).then(
      async (r) => ({ status: r.status, body: await r.text() }),
      (err) => ({ error: String(err.cause?.code ?? err.message) }),
    );
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(answer));
    return;
  }
  const files = {};
  for (const key of (process.env.SHOW_DIRS || "").split(",").filter(Boolean)) files[key] = readDir(process.env[key]);
  res.writeHead(200, { "content-type": "application/json" });
  res.end(JSON.stringify({
    env: process.env, files, cwd: process.cwd(), pid: process.pid, uid: process.getuid(), gid: process.getgid(),
    groups: process.getgroups(), rootWrite: tryWrite("/probe-root-write"), resolvConf: fs.readFileSync("/etc/resolv.conf", "utf8"),
  }));
});
server.listen(8080);
process.on("SIGTERM", () => {
  if (behaviour === "ignore-sigterm") return;
  if (process.env.MARKER_DIR) fs.writeFileSync(path.join(process.env.MARKER_DIR, "terminated-" + process.env.POD_NAME), String(Date.now()));
  server.close();
  process.exit(0);
});
`;

/** A container running the test server in the project's image, with the pod IP and name from the downward API. */
export function testContainer(overrides: Record<string, unknown> = {}, env: Record<string, unknown>[] = []): Record<string, unknown> {
  return {
    name: "server",
    image: dynamoImage(),
    imagePullPolicy: "IfNotPresent",
    command: ["node", "-e", TEST_SERVER_SCRIPT],
    ports: [{ name: "http", containerPort: 8080 }],
    env: [
      { name: "POD_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } },
      { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
      ...env,
    ],
    readinessProbe: { httpGet: { path: "/healthz", port: "http" }, periodSeconds: 1 },
    ...overrides,
  };
}
