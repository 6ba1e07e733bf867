/**
 * `dynamo token create|revoke`: makes client tokens and keeps the tokens file that nodes load with
 * `--client-tokens-file`. The file holds only SHA-256 digests; the token itself is printed once, on stdout, and
 * stored nowhere, so whoever reads the file (or the Secret it is mounted from) still cannot call the store.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { stringify as toYaml } from "yaml";
import { BUCKET_NAME_PATTERN } from "../node/config/index.js";
import {
  TOKEN_NAME_PATTERN,
  generateClientToken,
  hashClientToken,
  parseClientTokens,
  type ClientTokenEntry,
  type ClientTokensFile,
  type Scope,
} from "../node/http/index.js";
import { UsageError, command, list, parseCommand, type Command } from "../lib/command-line.js";

const NOTES = `usage: dynamo token create --name NAME --bucket B[,B...] --scope r|rw [--file FILE]
       dynamo token revoke --name NAME --file FILE
'create' prints the new token on stdout (the only time it is shown) and adds its hashed entry to FILE, or prints the
entry on stderr when no FILE is given. --bucket '*' grants the scope on every bucket.`;

export type TokenCommand =
  | { name: "create"; tokenName: string; grants: Record<string, Scope>; file?: string }
  | { name: "revoke"; tokenName: string; file: string }
  | { name: "help"; text: string };

function tokenCommand(): Command {
  // No DYNAMO_<FLAG> fallbacks here: a stray DYNAMO_FILE in the environment must not pick the file a token goes to.
  return command("token", "Makes or revokes a client token (for nodes run with --client-tokens-file).")
    .argument("[action]", "create or revoke")
    .option("--name <name>", "the token's name")
    .option("--bucket <buckets>", "buckets it grants, comma-separated or repeated; '*' for every bucket", list)
    .option("--scope <r|rw>", "read, or read and write")
    .option("--file <file>", "the tokens file to add the entry to, or remove it from")
    .addHelpText("after", `\n${NOTES}`);
}

export function parseTokenCommand(argv: string[]): TokenCommand {
  const parsed = parseCommand<{ name?: string; bucket?: string[]; scope?: string; file?: string }>(tokenCommand(), argv);
  if (parsed.help !== undefined) return { name: "help", text: parsed.help };
  const values = parsed.options;
  const [action] = parsed.args;
  const tokenName = values.name;
  if (action !== "create" && action !== "revoke") {
    throw new UsageError(`${action === undefined ? "missing token action" : `unknown token action '${action}'`}: use create or revoke (see 'dynamo token --help')`);
  }
  if (tokenName === undefined) throw new UsageError(`token ${action} needs --name`);
  if (!TOKEN_NAME_PATTERN.test(tokenName)) throw new UsageError(`--name '${tokenName}' must be 1-63 letters, digits, '.', '_' or '-'`);
  const file = values.file;
  if (action === "revoke") {
    if (file === undefined) throw new UsageError("token revoke needs --file");
    return { name: "revoke", tokenName, file };
  }
  const buckets = values.bucket ?? [];
  if (buckets.length === 0) throw new UsageError("token create needs --bucket (a bucket name, or '*' for every bucket)");
  for (const b of buckets) {
    if (b !== "*" && !BUCKET_NAME_PATTERN.test(b)) throw new UsageError(`--bucket '${b}' is not a bucket name ([a-z0-9][a-z0-9_-]{0,62}) or '*'`);
  }
  const scope = values.scope;
  if (scope !== "r" && scope !== "rw") throw new UsageError(`--scope must be r (read) or rw (read and write), got '${scope ?? ""}'`);
  return { name: "create", tokenName, grants: Object.fromEntries(buckets.map((b) => [b, scope])), file };
}

/** The entry a token gets in the tokens file: its name, digest and grants; never the token. */
export function tokenEntry(tokenName: string, token: string, grants: Record<string, Scope>): ClientTokenEntry {
  return { name: tokenName, sha256: hashClientToken(token), grants };
}

function readTokensFile(path: string): ClientTokensFile {
  if (!existsSync(path)) return { tokens: [] };
  return parseClientTokens(readFileSync(path, "utf8"), path);
}

/** Replaces the file in one rename, so a node re-reading it never sees half of it; owner-only like every secret. */
function writeTokensFile(path: string, file: ClientTokensFile): void {
  const text =
    "# Client tokens for --client-tokens-file: SHA-256 digests only; the tokens were shown once by 'dynamo token create'.\n" +
    toYaml(file, { lineWidth: 0 });
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, text, { mode: 0o600 });
  renameSync(temporary, path);
}

export interface TokenIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

export function runTokenCommand(argv: string[], io: TokenIo = { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) }): number {
  const command = parseTokenCommand(argv);
  switch (command.name) {
    case "help":
      io.stdout(command.text);
      return 0;
    case "create": {
      const token = generateClientToken();
      const entry = tokenEntry(command.tokenName, token, command.grants);
      if (command.file !== undefined) {
        const file = readTokensFile(command.file);
        if (file.tokens.some((t) => t.name === entry.name)) {
          throw new UsageError(`${command.file} already has a token named '${entry.name}'; revoke it first or pick another name`);
        }
        writeTokensFile(command.file, { tokens: [...file.tokens, entry] });
        io.stderr(`added token '${entry.name}' to ${command.file}; nodes pick it up within seconds\n`);
      } else {
        io.stderr(`add this entry under "tokens:" in the file given to --client-tokens-file:\n${toYaml([entry], { lineWidth: 0 })}`);
      }
      io.stdout(token + "\n");
      return 0;
    }
    case "revoke": {
      const file = readTokensFile(command.file);
      const kept = file.tokens.filter((t) => t.name !== command.tokenName);
      if (kept.length === file.tokens.length) throw new UsageError(`${command.file} has no token named '${command.tokenName}'`);
      writeTokensFile(command.file, { tokens: kept });
      io.stderr(`revoked token '${command.tokenName}'; nodes refuse it within seconds\n`);
      return 0;
    }
  }
}
