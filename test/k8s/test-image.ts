// A tiny workload for the kubelet tests, run by the `node` image mapping: an HTTP server on the pod
// IP that reports its environment and the files of the directories named in its environment, so a
// test can see exactly what the kubelet gave the container. BEHAVIOUR selects extra behaviour:
// `exit-1` exits with status 1 at once, `exit-0` exits cleanly, `unhealthy-later` fails /healthz
// after two seconds, `ignore-sigterm` ignores SIGTERM, and by default SIGTERM writes a marker file
// into MARKER_DIR before exiting 0.
export const TEST_SERVER_SCRIPT = `
const fs = require("node:fs");
const http = require("node:http");
const path = require("node:path");
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
const server = http.createServer((req, res) => {
  if (req.url === "/healthz") {
    const healthy = behaviour !== "unhealthy-later" || Date.now() - startedAt < 2000;
    res.writeHead(healthy ? 200 : 500).end(healthy ? "ok" : "unhealthy");
    return;
  }
  const files = {};
  for (const key of (process.env.SHOW_DIRS || "").split(",").filter(Boolean)) files[key] = readDir(process.env[key]);
  res.writeHead(200, { "content-type": "application/json" });
  res.end(JSON.stringify({ env: process.env, files, cwd: process.cwd(), pid: process.pid }));
});
server.listen(8080, process.env.POD_IP);
process.on("SIGTERM", () => {
  if (behaviour === "ignore-sigterm") return;
  if (process.env.MARKER_DIR) fs.writeFileSync(path.join(process.env.MARKER_DIR, "terminated-" + process.env.POD_NAME), String(Date.now()));
  server.close();
  process.exit(0);
});
`;

/** A container running the test server, with the pod IP and name from the downward API. */
export function testContainer(overrides: Record<string, unknown> = {}, env: Record<string, unknown>[] = []): Record<string, unknown> {
  return {
    name: "server",
    image: "node:20",
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
