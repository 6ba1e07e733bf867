/**
 * `dynamo get|put|delete BUCKET KEY`: the store's client for humans, a thin shell over `DynamoClient`. Parsing the
 * command line is pure (`parseClientCommand`) and separate from running it, so usage rules are tested without a
 * cluster. Values go to stdout byte for byte; everything else (the context, errors) goes to stderr, so
 * `dynamo get b k > file` captures exactly the stored value.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { DynamoClient, DynamoClientError, type GetResult, type Sibling } from "../client/index.js";
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError, command, parseCommand, wholeNumber, type Command } from "../lib/command-line.js";

export const DEFAULT_URL = "http://127.0.0.1:8080";
/** Where `dynamo dev` writes its cluster description when run with its default data directory. */
export const DEV_JSON_PATH = join(".dynamo", "dev.json");
/** Bounds what `put` reads from stdin; the server's own limit (1 MiB by default) is far below it. */
export const STDIN_BYTES_MAX = 64 * 1024 * 1024;

const NOTES = [
  `URL defaults to $DYNAMO_URL, else the first node in ${DEV_JSON_PATH}, else ${DEFAULT_URL}; several may be given comma-separated.`,
  "--token (or $DYNAMO_TOKEN) is a client token for nodes that require one; --ca (or $DYNAMO_CA) a PEM file of CAs to trust for https URLs.",
  "--routing ring (or $DYNAMO_ROUTING) fetches the ring first and sends the request straight to a replica of the key.",
].join("\n");

type CommandName = "get" | "put" | "delete";

const SUMMARY: Record<CommandName, string> = {
  get: "Reads a key: the value on stdout, its context on stderr.",
  put: "Writes a key (the value from stdin when VALUE is absent).",
  delete: "Deletes a key.",
};

/** Each command takes only the flags that mean something for it; any other is refused as bad usage. */
function clientCommand(name: CommandName): Command {
  const cmd = command(name, SUMMARY[name]).argument("<bucket>").argument("<key>");
  if (name === "put") cmd.argument("[value]", "the value (default: stdin)");
  if (name === "get") cmd.option("--r <n>", "read quorum", quorum("r"));
  if (name !== "get") cmd.option("--context <c>", "the context of an earlier read").option("--w <n>", "write quorum", quorum("w"));
  if (name === "put") cmd.option("--content-type <type>", "stored and returned with the value");
  return cmd
    .option("--url <urls>", "node URLs, comma-separated")
    .option("--token <token>", "a client token")
    .option("--ca <file>", "a PEM file of CAs to trust for https URLs")
    .option("--routing <mode>", "round-robin (default) or ring: send the request to a replica of the key")
    .addHelpText("after", `\n${NOTES}`);
}

function quorum(flag: string): (value: string) => number {
  return wholeNumber(flag, 1, 16, "a quorum");
}

interface ClientFlags {
  url?: string;
  context?: string;
  r?: number;
  w?: number;
  contentType?: string;
  token?: string;
  ca?: string;
  routing?: string;
}

/** How to reach the nodes beyond their URLs: a client token and a CA file, each present only when given. */
export interface ConnectionFlags {
  token?: string;
  /** Path of a PEM file; read when the command runs, so parsing stays pure. */
  ca?: string;
  /** `ring` sends the request to a replica of the key (client/routing.ts); round-robin when absent. */
  routing?: "ring" | "round-robin";
}

export type ClientCommand =
  | ({ name: "get"; urls: string[]; bucket: string; key: string; r?: number } & ConnectionFlags)
  | ({
      name: "put";
      urls: string[];
      bucket: string;
      key: string;
      /** Undefined when the value is to be read from stdin. */
      value?: string;
      context?: string;
      w?: number;
      contentType?: string;
    } & ConnectionFlags)
  | ({ name: "delete"; urls: string[]; bucket: string; key: string; context?: string; w?: number } & ConnectionFlags)
  | { name: "help"; text: string };

/** What the URL default depends on, passed in so that resolution stays a pure function. */
export interface UrlSources {
  env: Record<string, string | undefined>;
  /** The contents of `.dynamo/dev.json`, when the file exists. */
  devJson?: string;
}

/** The first node of a running `dynamo dev`, when its dev.json can be read; a broken file is ignored, not fatal. */
function devClientUrl(devJson: string | undefined): string | undefined {
  if (devJson === undefined) return undefined;
  try {
    const parsed = JSON.parse(devJson) as { nodes?: Array<{ clientUrl?: unknown }> };
    const url = parsed.nodes?.[0]?.clientUrl;
    return typeof url === "string" && url !== "" ? url : undefined;
  } catch {
    return undefined;
  }
}

/** The CA a running `dynamo dev --client-tls` names in dev.json for its https client ports. */
function devClientCa(devJson: string | undefined): string | undefined {
  if (devJson === undefined) return undefined;
  try {
    const ca = (JSON.parse(devJson) as { clientCa?: unknown }).clientCa;
    return typeof ca === "string" && ca !== "" ? ca : undefined;
  } catch {
    return undefined;
  }
}

export function resolveUrls(flag: string | undefined, sources: UrlSources): string[] {
  const raw = flag ?? sources.env["DYNAMO_URL"] ?? devClientUrl(sources.devJson) ?? DEFAULT_URL;
  const urls = raw
    .split(",")
    .map((u) => u.trim())
    .filter((u) => u !== "");
  if (urls.length === 0) throw new UsageError("--url is empty");
  return urls;
}

/**
 * The token and CA file from the flags, else from DYNAMO_TOKEN and DYNAMO_CA, else (the CA only) `devCa`; absent
 * ones are left out.
 */
export function resolveConnection(flags: ConnectionFlags, env: Record<string, string | undefined>, devCa?: string): ConnectionFlags {
  const token = flags.token ?? (env["DYNAMO_TOKEN"] || undefined);
  const ca = flags.ca ?? (env["DYNAMO_CA"] || undefined) ?? devCa;
  if (token !== undefined && !/^[\x21-\x7e]+$/.test(token)) throw new UsageError("--token must be printable ASCII without spaces");
  const routing = flags.routing ?? (env["DYNAMO_ROUTING"] || undefined);
  if (routing !== undefined && routing !== "ring" && routing !== "round-robin") throw new UsageError(`--routing must be ring or round-robin, got '${routing}'`);
  return { ...(token !== undefined && { token }), ...(ca !== undefined && { ca }), ...(routing !== undefined && { routing }) };
}

export function parseClientCommand(argv: readonly string[], sources: UrlSources): ClientCommand {
  const [name, ...rest] = argv;
  if (name !== "get" && name !== "put" && name !== "delete") {
    throw new UsageError(name === undefined ? "missing command" : `unknown command '${name}'`);
  }
  const parsed = parseCommand<ClientFlags>(clientCommand(name), rest, {});
  if (parsed.help !== undefined) return { name: "help", text: parsed.help };
  const values = parsed.options;
  const [bucket, key, value] = parsed.args as [string, string, string | undefined];
  if (key === "") throw new UsageError("KEY must not be empty");
  const urls = resolveUrls(values.url, sources);
  // The nodes of a local cluster found through dev.json come with the CA of their client ports, if they use TLS.
  const fromDevJson = values.url === undefined && !sources.env["DYNAMO_URL"] && devClientUrl(sources.devJson) !== undefined;
  const connection = resolveConnection({ token: values.token, ca: values.ca, routing: values.routing as ConnectionFlags["routing"] }, sources.env, fromDevJson ? devClientCa(sources.devJson) : undefined);
  switch (name) {
    case "get":
      return { name, urls, bucket, key, r: values.r, ...connection };
    case "put":
      return { name, urls, bucket, key, value, context: values.context, w: values.w, contentType: values.contentType, ...connection };
    case "delete":
      return { name, urls, bucket, key, context: values.context, w: values.w, ...connection };
  }
}

/** Streams a command writes to and reads from; the process's own by default, replaceable in tests. */
export interface CommandIo {
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: Record<string, string | undefined>;
  cwd: string;
}

function processIo(): CommandIo {
  return { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() };
}

/** Resolves once the bytes are handed to the OS, so a caller may exit right after without truncating piped output. */
function write(stream: NodeJS.WritableStream, data: string | Buffer): Promise<void> {
  return new Promise((resolve, reject) => stream.write(data, (error) => (error ? reject(error) : resolve())));
}

async function readStdin(stdin: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of stdin) {
    const buffer = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    bytes += buffer.length;
    if (bytes > STDIN_BYTES_MAX) throw new UsageError(`the value on stdin exceeds ${STDIN_BYTES_MAX} bytes`);
    chunks.push(buffer);
  }
  return Buffer.concat(chunks, bytes);
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** A sibling for a person to read: its text when the bytes are UTF-8, base64 (under another name) when they are not. */
function describeSibling(sibling: Sibling): { contentType: string; value: string } | { contentType: string; valueBase64: string } {
  try {
    return { contentType: sibling.contentType, value: strictUtf8.decode(sibling.value) };
  } catch {
    return { contentType: sibling.contentType, valueBase64: sibling.value.toString("base64") };
  }
}

/** The document `get` prints for concurrent versions; exported so tests pin its shape. */
export function siblingsDocument(result: Extract<GetResult, { kind: "siblings" }>): string {
  return `${JSON.stringify({ context: result.context, siblings: result.siblings.map(describeSibling) }, null, 2)}\n`;
}

async function execute(command: Exclude<ClientCommand, { name: "help" }>, client: DynamoClient, io: CommandIo): Promise<number> {
  switch (command.name) {
    case "get": {
      const result = await client.get(command.bucket, command.key, { r: command.r });
      if (result.kind === "not_found") {
        await write(io.stderr, "not found\n");
        return EXIT_FAILURE;
      }
      await write(io.stdout, result.kind === "value" ? result.value : siblingsDocument(result));
      await write(io.stderr, `context: ${result.context}\n`);
      return EXIT_OK;
    }
    case "put": {
      const value = command.value ?? (await readStdin(io.stdin));
      const { context } = await client.put(command.bucket, command.key, value, {
        context: command.context,
        w: command.w,
        contentType: command.contentType,
      });
      await write(io.stderr, `context: ${context}\n`);
      return EXIT_OK;
    }
    case "delete": {
      const { context } = await client.delete(command.bucket, command.key, { context: command.context, w: command.w });
      if (context !== undefined) await write(io.stderr, `context: ${context}\n`);
      return EXIT_OK;
    }
  }
}

function readCaFile(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new UsageError(`cannot read the CA file ${path}: ${(error as Error).message}`);
  }
}

function readDevJson(cwd: string): string | undefined {
  const path = join(cwd, DEV_JSON_PATH);
  if (!existsSync(path)) return undefined;
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/**
 * Runs `get|put|delete` from `argv` (the command name first) and returns the exit code: 0 ok, 1 runtime failure
 * (including a key that is not found), 2 bad usage. It never throws for an operating error.
 */
export async function runClientCommand(argv: string[], io: CommandIo = processIo()): Promise<number> {
  let command: ClientCommand;
  try {
    command = parseClientCommand(argv, { env: io.env, devJson: readDevJson(io.cwd) });
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    // One line, as for every failure; the full usage is one --help away.
    const help = argv[0] === "get" || argv[0] === "put" || argv[0] === "delete" ? `dynamo ${argv[0]} --help` : "dynamo --help";
    await write(io.stderr, `dynamo: ${error.message} (see '${help}')\n`);
    return EXIT_USAGE;
  }
  if (command.name === "help") {
    await write(io.stdout, command.text);
    return EXIT_OK;
  }
  let client: DynamoClient;
  try {
    const ca = command.ca === undefined ? undefined : readCaFile(command.ca);
    client = new DynamoClient(command.urls, { maxSockets: 1, token: command.token, ca, routing: command.routing });
  } catch (error) {
    await write(io.stderr, `dynamo: ${(error as Error).message}\n`);
    return EXIT_USAGE;
  }
  try {
    // One request does not wait for hints: the ring is fetched first (a command that cannot get it goes round-robin).
    if (command.routing === "ring") await client.refreshRing();
    return await execute(command, client, io);
  } catch (error) {
    if (error instanceof UsageError) {
      await write(io.stderr, `dynamo: ${error.message}\n`);
      return EXIT_USAGE;
    }
    if (error instanceof DynamoClientError) {
      // A request rejected as malformed (by the client or the server, e.g. r > n) is the caller's mistake, like a bad flag.
      const exitCode = error.code === "invalid_request" ? EXIT_USAGE : EXIT_FAILURE;
      await write(io.stderr, `dynamo: ${error.code}: ${error.message.replaceAll("\n", " ")}\n`);
      return exitCode;
    }
    throw error;
  } finally {
    client.close();
  }
}
