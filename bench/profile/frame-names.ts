/**
 * Names for the frames of a CPU profile: a function and where it is defined, shortened to what identifies it, and the
 * module its time is charged to in tables and colours (a dependency, an area of Node, a folder of the project).
 */
import type { CallFrame } from "./cpu-profile.js";

/** Top-level folders of this repository, whose compiled code runs from dist/. */
const PROJECT_DIRS = new Set(["node", "client", "cli", "dev", "driver", "operator", "kubectl", "bench", "test"]);

/** A frame's name for graphs and tables: the function, and where it is defined, shortened to what identifies it. */
export function frameName(frame: CallFrame): string {
  const fn = frame.functionName === "" ? "(anonymous)" : frame.functionName;
  if (frame.url === "") return fn;
  return `${fn} ${shortUrl(frame.url)}:${frame.lineNumber + 1}`;
}

/** `file:///…/node_modules/express/lib/router.js` → `express/lib/router.js`; `file:///…/dist/node/x.js` → `node/x.js`. */
export function shortUrl(url: string): string {
  const path = url.replace(/^file:\/\//, "");
  const modules = path.lastIndexOf("/node_modules/");
  if (modules >= 0) return path.slice(modules + "/node_modules/".length);
  const dist = path.lastIndexOf("/dist/");
  if (dist >= 0) return path.slice(dist + "/dist/".length);
  return path;
}

/**
 * The module a frame's time is charged to: a package name for dependencies, `node:<area>` for Node's own
 * JavaScript, the project folder (`dynamo:replication`) for ours, and V8's pseudo-frames (GC, program, idle) as such.
 */
export function frameModule(frame: CallFrame): string {
  const url = frame.url;
  if (url === "") return frame.functionName.startsWith("(") ? frame.functionName : "(native)";
  if (url.startsWith("node:")) {
    const parts = url.slice("node:".length).split("/");
    return parts[0] === "internal" ? `node:${parts.slice(1, 2).join("/")}` : `node:${parts[0]}`;
  }
  const path = url.replace(/^file:\/\//, "");
  const modules = path.lastIndexOf("/node_modules/");
  if (modules >= 0) {
    const rest = path.slice(modules + "/node_modules/".length).split("/");
    return rest[0]!.startsWith("@") ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  const dist = path.lastIndexOf("/dist/");
  if (dist >= 0) {
    const rest = path.slice(dist + "/dist/".length).split("/");
    return `dynamo:${rest.length > 2 ? rest.slice(0, 2).join("/") : rest[0]}`;
  }
  return "(other)";
}

/** The module of a frame from its name as `frameName` wrote it. */
export function frameModuleOfName(name: string): string {
  const space = name.lastIndexOf(" ");
  const location = space < 0 ? "" : name.slice(space + 1);
  if (!/:\d+$/.test(location)) return name.startsWith("(") ? name : "(native)";
  const path = location.replace(/:\d+$/, "");
  if (path.startsWith("node:")) return frameModule({ functionName: "", url: path, lineNumber: 0, columnNumber: 0 });
  const parts = path.split("/");
  if (PROJECT_DIRS.has(parts[0]!)) return `dynamo:${parts.length > 2 ? parts.slice(0, 2).join("/") : parts[0]}`;
  if (path.startsWith("/")) return "(other)";
  return parts[0]!.startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0]!;
}
