// The import direction between the project's top-level folders (docs/architecture.md draws it), enforced by the lint
// rule `layers/import-direction`: a file may import from its own folder and from the folders its folder lists here,
// nothing else of the project. Packages from node_modules are not the rule's business. A new top-level folder gets
// its line here (and in docs/architecture.md) when it is created.
import { dirname, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

/**
 * Folder → the folders it may import from, lowest layer first. An entry with a slash allows only that sub-folder:
 * `client/` (the library applications embed) may use the pure ring code to route requests to replicas exactly as the
 * nodes compute them, and the error type that code throws, but nothing that pulls in the store, LevelDB or express.
 */
export const LAYERS = {
  lib: [],
  client: ["lib", "node/ring", "node/errors"],
  node: ["lib"],
  driver: ["node", "lib"],
  backup: ["driver", "node", "lib"],
  dev: ["driver", "node", "lib"],
  operator: ["backup", "driver", "node", "lib"],
  kubectl: ["operator", "driver", "node", "client", "lib"],
  cli: ["kubectl", "operator", "dev", "backup", "driver", "node", "client", "lib"],
  bench: ["cli", "kubectl", "operator", "dev", "backup", "driver", "node", "client", "lib"],
  scripts: ["operator", "node", "lib"],
  test: ["bench", "cli", "kubectl", "operator", "dev", "backup", "driver", "node", "client", "lib", "scripts", "charts", "crds", "examples"],
};

/** The top-level folder a path lies in, or undefined for files at the root and outside the repository. */
function folderOf(path) {
  const parts = relative(ROOT, path).split(sep);
  return parts.length > 1 && parts[0] !== ".." ? parts[0] : undefined;
}

const importDirection = {
  meta: {
    type: "problem",
    docs: { description: "imports between top-level folders follow the layers of docs/architecture.md" },
    schema: [],
  },
  create(context) {
    const from = folderOf(context.filename);
    const allowed = from === undefined ? undefined : LAYERS[from];
    if (allowed === undefined) return {};
    const check = (source) => {
      if (!source || source.type !== "Literal" || typeof source.value !== "string" || !source.value.startsWith(".")) return;
      const to = folderOf(resolve(dirname(context.filename), source.value));
      // A folder not in LAYERS yet is let through, so a new one never breaks the build before it is placed here.
      if (to === undefined || to === from || allowed.includes(to) || !(to in LAYERS)) return;
      const target = relative(ROOT, resolve(dirname(context.filename), source.value)).split(sep).join("/");
      if (allowed.some((entry) => entry.includes("/") && target.startsWith(`${entry}/`))) return;
      context.report({
        node: source,
        message: `${from}/ may not import from ${to}/ (it may import from ${allowed.length > 0 ? allowed.map((f) => `${f}/`).join(", ") : "nothing else of the project"}; see docs/architecture.md)`,
      });
    };
    return {
      ImportDeclaration: (node) => check(node.source),
      ExportNamedDeclaration: (node) => check(node.source),
      ExportAllDeclaration: (node) => check(node.source),
      ImportExpression: (node) => check(node.source),
    };
  },
};

export const layersPlugin = { rules: { "import-direction": importDirection } };
