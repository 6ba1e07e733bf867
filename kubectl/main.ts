#!/usr/bin/env node
/** The `kubectl-dynamo` executable: kubectl runs it for `kubectl dynamo ...`. */
import { failure, runKubectlPlugin } from "./plugin.js";

runKubectlPlugin(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (err: unknown) => (process.exitCode = failure(err)),
);
