#!/usr/bin/env node
/**
 * The `dynamo` command: dispatches to its subcommands. Exit codes: 0 ok, 1 runtime failure, 2 bad usage, each
 * failure with a one-line message on stderr.
 */
import { BackupError } from "../backup/errors.js";
import { DynamoError } from "../node/errors/index.js";
import { UsageError } from "../lib/command-line.js";

const USAGE = `usage: dynamo <command> [flags]
commands:
  node                      run one storage node
  dev [status|scale N|kill I|restart I|restart --rolling|replace I]
                            run (or act on) a local cluster
  get|put|delete BUCKET KEY read, write or delete a key
  token create|revoke       make or revoke a client token (for nodes run with --client-tokens-file)
  backup create|list|restore|delete
                            back a cluster up to a directory or S3, and restore it
  operator                  run the Kubernetes operator
  kubectl ...               the kubectl plugin (kubectl dynamo ...): status, ring, replace, pause, resume, rebalance, report
'dynamo <command> --help' prints a command's flags.`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "node":
      return (await import("../node/main.js")).runNode(rest);
    case "dev":
      return (await import("../dev/main.js")).runDev(rest);
    case "get":
    case "put":
    case "delete":
      return (await import("./client-commands.js")).runClientCommand(argv);
    case "token":
      return (await import("./token-commands.js")).runTokenCommand(rest);
    case "backup":
      return (await import("./backup-commands.js")).runBackupCommand(rest);
    case "operator":
      return (await import("../operator/main.js")).runOperator(rest);
    case "kubectl":
      return (await import("../kubectl/index.js")).runKubectlPlugin(rest);
    case "help":
    case "--help":
    case "-h":
      process.stdout.write(USAGE + "\n");
      return 0;
    case undefined:
      throw new UsageError("no command given\n" + USAGE);
    default:
      throw new UsageError(`unknown command '${command}'\n` + USAGE);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`dynamo: ${err.message}\n`);
      process.exitCode = 2;
    } else if ((err instanceof DynamoError && err.code === "invalid_request") || (err instanceof BackupError && err.code === "invalid_location")) {
      process.stderr.write(`dynamo: ${err.message}\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`dynamo: ${(err as Error)?.message ?? String(err)}\n`);
      process.exitCode = 1;
    }
  },
);
