// Lint configuration: typescript-eslint's recommended rules over every TypeScript source in the project, and the
// import direction between the top-level folders (scripts/lint/layers.mjs, drawn in docs/architecture.md).
import js from "@eslint/js";
import tseslint from "typescript-eslint";
import { layersPlugin } from "./scripts/lint/layers.mjs";

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", ".dynamo/**", "test/k8s/toolchain/**", "charts/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    // Plain JavaScript scripts run on Node before anything is compiled; TypeScript files get these from @types/node.
    files: ["**/*.mjs", "**/*.js"],
    languageOptions: { globals: { process: "readonly", console: "readonly", URL: "readonly", Buffer: "readonly" } },
  },
  {
    // The console's page runs in a browser.
    files: ["node/console/static/**/*.js"],
    languageOptions: {
      sourceType: "script",
      globals: { document: "readonly", window: "readonly", fetch: "readonly", setTimeout: "readonly", console: "readonly" },
    },
  },
  {
    files: ["**/*.ts", "**/*.mjs", "**/*.js"],
    plugins: { layers: layersPlugin },
    rules: { "layers/import-direction": "error" },
  },
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "no-constant-condition": ["error", { checkLoops: false }],
    },
  },
);
