/**
 * A small reader of the Dockerfile and .dockerignore, enough for the packaging tests to check what the image would
 * contain without a container engine: stages with their base image and name, and each stage's instructions with
 * line continuations joined, comments dropped and global ARG defaults substituted into FROM. It understands the
 * subset of the Dockerfile syntax our Dockerfile uses and throws on anything else it would misread.
 */
import { posix } from "node:path";

export interface Instruction {
  /** Upper-case keyword: FROM, RUN, COPY, ... */
  keyword: string;
  /** The rest of the line, continuations joined with a space. */
  rest: string;
  line: number;
}

export interface Stage {
  image: string;
  name: string | undefined;
  instructions: Instruction[];
}

export interface CopyInstruction {
  from: string | undefined;
  sources: string[];
  destination: string;
}

const KNOWN_KEYWORDS = new Set(["FROM", "ARG", "ENV", "WORKDIR", "COPY", "RUN", "USER", "ENTRYPOINT", "CMD", "LABEL", "EXPOSE"]);

function instructions(text: string): Instruction[] {
  const result: Instruction[] = [];
  let pending: { parts: string[]; line: number } | undefined;
  text.split("\n").forEach((raw, index) => {
    const trimmed = raw.trim();
    // Comment lines are dropped even inside a continuation, as Docker does.
    if (trimmed.startsWith("#") || (trimmed === "" && !pending)) return;
    const continues = trimmed.endsWith("\\");
    const part = continues ? trimmed.slice(0, -1).trim() : trimmed;
    pending ??= { parts: [], line: index + 1 };
    if (part) pending.parts.push(part);
    if (continues) return;
    const joined = pending.parts.join(" ");
    const match = /^(\S+)\s*(.*)$/.exec(joined);
    if (!match) throw new Error(`Dockerfile line ${pending.line}: cannot read '${joined}'`);
    const keyword = (match[1] as string).toUpperCase();
    if (!KNOWN_KEYWORDS.has(keyword)) throw new Error(`Dockerfile line ${pending.line}: instruction ${keyword} is not understood by this reader`);
    result.push({ keyword, rest: match[2] ?? "", line: pending.line });
    pending = undefined;
  });
  if (pending) throw new Error("Dockerfile ends inside a line continuation");
  return result;
}

/** `${NAME}` and `$NAME` from the given defaults; an unknown name is an error, not an empty string. */
function substitute(value: string, args: Record<string, string>): string {
  return value.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, braced: string | undefined, bare: string | undefined) => {
    const name = (braced ?? bare) as string;
    const found = args[name];
    if (found === undefined) throw new Error(`Dockerfile uses \${${name}} without a default`);
    return found;
  });
}

export function parseDockerfile(text: string): { globalArgs: Record<string, string>; stages: Stage[] } {
  const globalArgs: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const instruction of instructions(text)) {
    if (instruction.keyword === "FROM") {
      const match = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(instruction.rest);
      if (!match) throw new Error(`Dockerfile line ${instruction.line}: cannot read FROM ${instruction.rest}`);
      stages.push({ image: substitute(match[1] as string, globalArgs), name: match[2], instructions: [] });
    } else if (stages.length === 0) {
      if (instruction.keyword !== "ARG") throw new Error(`Dockerfile line ${instruction.line}: only ARG may precede the first FROM`);
      const [name, value] = instruction.rest.split("=", 2);
      if (!name || value === undefined) throw new Error(`Dockerfile line ${instruction.line}: a global ARG needs a default`);
      globalArgs[name] = value;
    } else {
      (stages[stages.length - 1] as Stage).instructions.push(instruction);
    }
  }
  return { globalArgs, stages };
}

export function stageInstructions(stage: Stage, keyword: string): Instruction[] {
  return stage.instructions.filter((i) => i.keyword === keyword);
}

/** COPY in its shell form with an optional --from; other flags (--chown, --chmod, --link) are refused. */
export function parseCopy(instruction: Instruction): CopyInstruction {
  const words = instruction.rest.split(/\s+/).filter(Boolean);
  let from: string | undefined;
  while (words[0]?.startsWith("--")) {
    const flag = words.shift() as string;
    const match = /^--from=(.+)$/.exec(flag);
    if (!match) throw new Error(`Dockerfile line ${instruction.line}: COPY flag ${flag} is not understood by this reader`);
    from = match[1];
  }
  if (words.length < 2) throw new Error(`Dockerfile line ${instruction.line}: COPY needs a source and a destination`);
  return { from, sources: words.slice(0, -1), destination: words[words.length - 1] as string };
}

/** The exec (JSON) form of ENTRYPOINT or CMD; the shell form is refused since it would run under /bin/sh -c. */
export function execForm(instruction: Instruction): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(instruction.rest);
  } catch {
    throw new Error(`Dockerfile line ${instruction.line}: ${instruction.keyword} is not in exec (JSON array) form`);
  }
  if (!Array.isArray(parsed) || !parsed.every((p) => typeof p === "string")) {
    throw new Error(`Dockerfile line ${instruction.line}: ${instruction.keyword} must be a JSON array of strings`);
  }
  return parsed;
}

/** The working directory in force at each instruction of a stage (WORKDIR instructions, relative ones joined). */
export function workdirAt(stage: Stage, instruction: Instruction): string {
  let dir = "/";
  for (const i of stage.instructions) {
    if (i === instruction) break;
    if (i.keyword === "WORKDIR") dir = posix.resolve(dir, i.rest.trim());
  }
  return dir;
}

/**
 * Whether .dockerignore excludes a context path: patterns in order, `!` re-includes, the last match wins, and a
 * pattern matching a folder excludes everything under it. `*` and `?` stay within one path segment, `**` spans any.
 */
export function isIgnored(dockerignore: string, path: string): boolean {
  const target = posix.normalize(path).replace(/^\.\/|\/$/g, "");
  let ignored = false;
  for (const rawLine of dockerignore.split("\n")) {
    const line = rawLine.trim();
    if (!line || line.startsWith("#")) continue;
    const negate = line.startsWith("!");
    const pattern = posix.normalize(negate ? line.slice(1) : line).replace(/^\/|\/$/g, "");
    const source = pattern
      .split("**")
      .map((piece) => piece.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*").replace(/\?/g, "[^/]"))
      .join(".*");
    if (new RegExp(`^${source}(/.*)?$`).test(target)) ignored = !negate;
  }
  return ignored;
}
