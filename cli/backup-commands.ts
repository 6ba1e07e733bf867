/**
 * `dynamo backup create|list|restore|delete`: backups of a running cluster to a directory or to S3, and restores
 * from them. The process itself reads the cluster through the nodes' peer ports (with the cluster token and, where
 * the ports run TLS, a client certificate of the cluster CA) and writes the store; with no `--url` it finds a local
 * `dynamo dev` cluster, its token and its certificates under `--data-dir`. Exit 0 only when the backup or restore is
 * complete and verified; 1 for a runtime failure (the message names what failed); 2 for bad usage.
 */
import { existsSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import {
  BackupError,
  ClusterAccess,
  backupErrorCode,
  DEFAULT_BACKUP,
  deleteBackup,
  formatLocation,
  listBackups,
  openStore,
  parseLocation,
  runBackup,
  retentionVictims,
  runRestore,
  type BackupEntry,
  type BackupProgress,
  type ObjectStore,
  type S3Access,
} from "../backup/index.js";
import { readDevState } from "../dev/state.js";
import { AdminClient } from "../driver/index.js";
import { formatBytes, formatDuration } from "../node/ring/index.js";
import { readTokenFile } from "../node/peer/index.js";
import { clientTlsOptions, readTlsMaterial, type ClientTlsOptions } from "../node/tls/index.js";
import { UsageError, command, parseCommand, readsEnvironment, wholeNumber } from "../lib/command-line.js";

export const BACKUP_USAGE = `usage: dynamo backup create --to LOCATION [--url URL] [--id ID] [--keep-last N] [--max-age AGE] [connection, S3 and rate flags]
       dynamo backup list --from LOCATION [--json] [S3 flags]
       dynamo backup prune --from LOCATION [--keep-last N] [--max-age AGE] [S3 flags]
       dynamo backup restore --from LOCATION [--url URL] [--id ID] [--allow-non-empty] [connection and S3 flags]
       dynamo backup delete --from LOCATION --id ID [S3 flags]
LOCATION: file:///absolute/dir or s3://bucket/prefix
connection: --url URL (a node's peer-port URL, or its client URL; comma-separated for several; default: the
            local cluster under --data-dir, .dynamo), --token-file FILE (default <data-dir>/token),
            --tls-dir DIR (ca.crt, tls.crt, tls.key; default <data-dir>/tls/client)
S3:         --s3-endpoint URL, --s3-region REGION, --s3-path-style; credentials from AWS_ACCESS_KEY_ID and
            AWS_SECRET_ACCESS_KEY (or the other usual AWS sources)
rate:       --bytes-per-second N (default ${DEFAULT_BACKUP.bytesPerSecond}), --records-per-second N (default ${DEFAULT_BACKUP.recordsPerSecond}), 0 for no limit
create --id ID runs backup ID: it resumes it when an earlier run was interrupted, and does nothing when it is complete.
retention:  --keep-last N keeps the N newest complete backups, --max-age AGE (30d, 12h, 90m) deletes older ones; a
            running backup and the newest complete one are never deleted. On create, applied once the backup completes.
--progress-json (create) prints the progress lines on stderr as JSON, {"progress":{"id":..,"partitionsDone":..,
            "partitionsTotal":..,"records":..,"bytes":..}} (the operator reads them from the backup Job's log).
--result-file FILE (create, restore) writes the outcome as one line of JSON, success or failure (the operator reads it).
restore without --id restores the newest complete backup.`;

const S3_FLAGS = {
  "s3-endpoint": { type: "string" },
  "s3-region": { type: "string" },
  "s3-path-style": { type: "boolean" },
} as const;

const CONNECTION_FLAGS = {
  url: { type: "string" },
  "data-dir": { type: "string" },
  "token-file": { type: "string" },
  "tls-dir": { type: "string" },
} as const;

type Values = Record<string, string | boolean | undefined>;

/**
 * Parses one action's flags on commander, each also DYNAMO_<FLAG>; the values are keyed by the flags' own names.
 * Undefined when --help was asked for (the usage is then printed).
 */
function parseFlags(action: string, argv: string[], spec: Record<string, { type: "string" | "boolean" }>): Values | undefined {
  const cmd = command(`backup ${action}`, `The backup action '${action}'.`);
  for (const [name, { type }] of Object.entries(spec)) cmd.option(type === "string" ? `--${name} <value>` : `--${name}`);
  cmd.addHelpText("after", `\n${BACKUP_USAGE}`);
  const parsed = parseCommand<Record<string, string | boolean | undefined>>(readsEnvironment(cmd), argv);
  if (parsed.help !== undefined) {
    process.stdout.write(parsed.help);
    return undefined;
  }
  return Object.fromEntries(cmd.options.map((option) => [option.name(), parsed.options[option.attributeName()]]));
}

/** A whole-number flag in [min, max], or `fallback` when absent. */
function intFlag(value: string | boolean | undefined, name: string, fallback: number, min: number, max: number): number {
  return value === undefined ? fallback : wholeNumber(name, min, max)(String(value));
}

export async function runBackupCommand(argv: string[]): Promise<number> {
  const [action, ...rest] = argv;
  switch (action) {
    case "create":
      return create(rest);
    case "list":
      return list(rest);
    case "restore":
      return restore(rest);
    case "delete":
      return remove(rest);
    case "prune":
      return prune(rest);
    case "help":
    case "--help":
    case "-h":
    case undefined:
      process.stdout.write(BACKUP_USAGE + "\n");
      return action === undefined ? 2 : 0;
    default:
      throw new UsageError(`unknown backup action '${action}'\n${BACKUP_USAGE}`);
  }
}

async function create(argv: string[]): Promise<number> {
  const values = parseFlags("create", argv, {
    to: { type: "string" },
    id: { type: "string" },
    json: { type: "boolean" },
    "progress-json": { type: "boolean" },
    "bytes-per-second": { type: "string" },
    "records-per-second": { type: "string" },
    "partitions-in-flight": { type: "string" },
    ...RETENTION_FLAGS,
    ...RESULT_FLAGS,
    ...CONNECTION_FLAGS,
    ...S3_FLAGS,
  });
  if (!values) return 0;
  return reportingResult(values, () => createBackup(values));
}

async function createBackup(values: Values): Promise<{ code: number; result: Record<string, unknown> }> {
  const retention = retentionFrom(values);
  const store = storeFrom(values, "to");
  const rate = {
    bytesPerSecond: intFlag(values["bytes-per-second"], "bytes-per-second", DEFAULT_BACKUP.bytesPerSecond, 0, 2 ** 40),
    recordsPerSecond: intFlag(values["records-per-second"], "records-per-second", DEFAULT_BACKUP.recordsPerSecond, 0, 2 ** 30),
  };
  const partitionsInFlight = intFlag(values["partitions-in-flight"], "partitions-in-flight", DEFAULT_BACKUP.partitionsInFlight, 1, 64);
  const cluster = await connect(values);
  const stop = stopOnSignals();
  const started = Date.now();
  const progress = throttledProgress();
  try {
    const result = await runBackup({
      cluster,
      store,
      id: values.id as string | undefined,
      rate,
      partitionsInFlight,
      signal: stop.signal,
      log: (m) => process.stderr.write(`${m}\n`),
      onProgress: (p) =>
        progress(
          values["progress-json"] === true
            ? progressLine(p)
            : `backup ${p.id}: ${p.partitionsDone}/${p.partitionsTotal} partitions, ${p.records} records, ${formatBytes(p.bytes)}`,
          p.partitionsDone === p.partitionsTotal,
        ),
    });
    const m = result.manifest;
    if (values.json === true) {
      process.stdout.write(JSON.stringify({ id: m.id, location: store.description, startedAt: m.startedAt, finishedAt: m.finishedAt, totals: m.totals, warnings: m.warnings }, null, 2) + "\n");
    } else if (result.alreadyComplete) {
      process.stdout.write(`backup ${m.id} in ${store.description} is already complete (${m.totals.records} records, taken ${m.startedAt})\n`);
    } else {
      process.stdout.write(
        `backup ${m.id} complete in ${store.description}: ${m.totals.records} records (${m.totals.tombstones} deletes) in ${m.partitions.length} partitions, ` +
          `${formatBytes(m.totals.bytes)} stored, in ${formatDuration((Date.now() - started) / 1000)}` +
          (result.resumedPartitions > 0 ? ` (${result.resumedPartitions} partitions kept from an earlier run)` : "") +
          `\nevery write acknowledged before ${m.startedAt} is in it\n`,
      );
    }
    for (const warning of m.warnings) process.stderr.write(`warning: ${warning}\n`);
    const pruned = retention ? await pruneStore(store, retention) : undefined;
    return {
      code: 0,
      result: {
        action: "backup",
        id: m.id,
        startedAt: m.startedAt,
        finishedAt: m.finishedAt,
        partitions: m.partitions.length,
        records: m.totals.records,
        tombstones: m.totals.tombstones,
        bytes: m.totals.bytes,
        ...(pruned ? { pruned: pruned.deleted, ...(pruned.error ? { pruneError: pruned.error } : {}) } : {}),
      },
    };
  } finally {
    stop.dispose();
    cluster.close();
    store.close();
  }
}

async function list(argv: string[]): Promise<number> {
  const values = parseFlags("list", argv, { from: { type: "string" }, json: { type: "boolean" }, ...S3_FLAGS });
  if (!values) return 0;
  const store = storeFrom(values, "from");
  try {
    const backups = await listBackups(store);
    if (values.json === true) process.stdout.write(JSON.stringify(backups, null, 2) + "\n");
    else process.stdout.write(renderBackups(backups, store.description));
    return 0;
  } finally {
    store.close();
  }
}

async function restore(argv: string[]): Promise<number> {
  const values = parseFlags("restore", argv, {
    from: { type: "string" },
    id: { type: "string" },
    json: { type: "boolean" },
    "allow-non-empty": { type: "boolean" },
    ...RESULT_FLAGS,
    ...CONNECTION_FLAGS,
    ...S3_FLAGS,
  });
  if (!values) return 0;
  return reportingResult(values, () => restoreBackup(values));
}

async function restoreBackup(values: Values): Promise<{ code: number; result: Record<string, unknown> }> {
  const store = storeFrom(values, "from");
  const cluster = await connect(values);
  const stop = stopOnSignals();
  const started = Date.now();
  const progress = throttledProgress();
  try {
    const result = await runRestore({
      cluster,
      store,
      id: values.id as string | undefined,
      allowNonEmpty: values["allow-non-empty"] === true,
      signal: stop.signal,
      log: (m) => process.stderr.write(`${m}\n`),
      onProgress: (p) =>
        progress(
          `restore ${p.id}: ${p.phase} ${p.partitionsDone}/${p.partitionsTotal} files, ${p.phase === "loading" ? `${p.records} records, ` : ""}${formatBytes(p.bytes)}`,
          p.partitionsDone === p.partitionsTotal,
        ),
    });
    const m = result.manifest;
    if (values.json === true) {
      process.stdout.write(JSON.stringify({ id: m.id, location: store.description, records: result.records, startedAt: m.startedAt }, null, 2) + "\n");
    } else {
      process.stdout.write(
        `restored backup ${m.id} (taken ${m.startedAt}): ${result.records} records from ${m.partitions.length} verified files, ` +
          `into ${Object.keys(cluster.ring.members).length} members, in ${formatDuration((Date.now() - started) / 1000)}\n`,
      );
    }
    return { code: 0, result: { action: "restore", id: m.id, startedAt: m.startedAt, partitions: m.partitions.length, records: result.records } };
  } finally {
    stop.dispose();
    cluster.close();
    store.close();
  }
}

async function remove(argv: string[]): Promise<number> {
  const values = parseFlags("delete", argv, { from: { type: "string" }, id: { type: "string" }, ...S3_FLAGS });
  if (!values) return 0;
  const id = values.id as string | undefined;
  if (!id) throw new UsageError("backup delete needs --id ID");
  const store = storeFrom(values, "from");
  try {
    const objects = await deleteBackup(store, id);
    process.stdout.write(`deleted backup ${id} from ${store.description} (${objects} objects)\n`);
    return 0;
  } finally {
    store.close();
  }
}

const RETENTION_FLAGS = { "keep-last": { type: "string" }, "max-age": { type: "string" } } as const;
const RESULT_FLAGS = { "result-file": { type: "string" } } as const;

/**
 * Runs an action and, with `--result-file`, writes its outcome there as one line of JSON: `{"ok":true,...}` with
 * what it did, or `{"ok":false,"code":...,"message":...}` with the failure's code and the file it names. The operator
 * points this at a Job container's termination-message file, which the kubelet keeps in the pod status.
 */
async function reportingResult(values: Values, action: () => Promise<{ code: number; result: Record<string, unknown> }>): Promise<number> {
  const file = values["result-file"] as string | undefined;
  const write = (result: Record<string, unknown>) => {
    if (!file) return;
    try {
      writeFileSync(file, JSON.stringify(result) + "\n");
    } catch (err) {
      process.stderr.write(`warning: cannot write the result to ${file}: ${(err as Error).message}\n`);
    }
  };
  try {
    const { code, result } = await action();
    write({ ok: true, ...result });
    return code;
  } catch (err) {
    const error = err as Error;
    const code = err instanceof UsageError ? "usage" : (backupErrorCode(err) ?? "failed");
    write({ ok: false, code, message: String(error?.message ?? err).slice(0, 2000), ...(err instanceof BackupError && err.object ? { object: err.object } : {}) });
    throw err;
  }
}

export interface Retention {
  keepLast?: number;
  maxAgeMs?: number;
  maxAge?: string;
}

/** `--keep-last` and `--max-age`, or undefined when neither is given. */
export function retentionFrom(values: Values): Retention | undefined {
  const keep = values["keep-last"];
  const age = values["max-age"] as string | undefined;
  if (keep === undefined && age === undefined) return undefined;
  const retention: Retention = {};
  if (keep !== undefined) retention.keepLast = wholeNumber("keep-last", 1, 1_000_000)(String(keep));
  if (age !== undefined) {
    const match = /^([1-9][0-9]{0,5})(d|h|m)$/.exec(age);
    if (!match) throw new UsageError(`--max-age '${age}' is not a duration such as 30d, 12h or 90m`);
    retention.maxAge = age;
    retention.maxAgeMs = Number(match[1]) * { d: 86_400_000, h: 3_600_000, m: 60_000 }[match[2] as "d" | "h" | "m"];
  }
  return retention;
}

/** Deletes what the retention lets go; a failure is reported, not thrown (the backup itself is complete). */
async function pruneStore(store: ObjectStore, retention: Retention): Promise<{ deleted: string[]; error?: string }> {
  const deleted: string[] = [];
  try {
    const backups = await listBackups(store);
    const candidates = backups.map((b) => ({ id: b.id, state: b.state, startedAtMs: Date.parse(b.startedAt ?? "") || 0 }));
    for (const id of retentionVictims(candidates, retention, Date.now())) {
      await deleteBackup(store, id);
      deleted.push(id);
      process.stderr.write(`retention: deleted backup ${id} from ${store.description}\n`);
    }
    return { deleted };
  } catch (err) {
    process.stderr.write(`warning: retention in ${store.description} failed: ${(err as Error).message}\n`);
    return { deleted, error: (err as Error).message };
  }
}

async function prune(argv: string[]): Promise<number> {
  const values = parseFlags("prune", argv, { from: { type: "string" }, ...RETENTION_FLAGS, ...S3_FLAGS });
  if (!values) return 0;
  const retention = retentionFrom(values);
  if (!retention) throw new UsageError("backup prune needs --keep-last N or --max-age AGE");
  const store = storeFrom(values, "from");
  try {
    const { deleted, error } = await pruneStore(store, retention);
    process.stdout.write(deleted.length === 0 ? `nothing to delete in ${store.description}\n` : `deleted ${deleted.length} backups from ${store.description}: ${deleted.join(", ")}\n`);
    return error ? 1 : 0;
  } finally {
    store.close();
  }
}

/** The store a `--to` or `--from` flag names, with the S3 flags. */
function storeFrom(values: Values, flag: "to" | "from"): ObjectStore {
  const text = values[flag] as string | undefined;
  if (!text) throw new UsageError(`--${flag} LOCATION is required (file:///absolute/dir or s3://bucket/prefix)`);
  let location;
  try {
    location = parseLocation(text);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const s3: S3Access = {
    endpoint: values["s3-endpoint"] as string | undefined,
    region: values["s3-region"] as string | undefined,
    forcePathStyle: values["s3-path-style"] === true || process.env.DYNAMO_S3_PATH_STYLE === "1" ? true : undefined,
  };
  if (location.kind === "file" && (s3.endpoint || s3.region || s3.forcePathStyle)) {
    throw new UsageError(`the --s3-* flags are for s3:// locations, not ${formatLocation(location)}`);
  }
  return openStore(location, s3);
}

/** How to reach the cluster: the flags, else the local `dynamo dev` cluster under --data-dir. */
export interface ConnectionPlan {
  urls: string[];
  tokenFile: string;
  tlsDir?: string;
}

export function planConnection(values: Values, exists: (path: string) => boolean = existsSync): ConnectionPlan {
  const dataDir = resolve((values["data-dir"] as string | undefined) ?? ".dynamo");
  const tokenFile = (values["token-file"] as string | undefined) ?? join(dataDir, "token");
  const devTls = join(dataDir, "tls", "client");
  const tlsDir = (values["tls-dir"] as string | undefined) ?? (exists(join(devTls, "tls.crt")) ? devTls : undefined);
  let urls = ((values.url as string | undefined) ?? "").split(",").map((u) => u.trim()).filter(Boolean);
  if (urls.length === 0) {
    const dev = exists(join(dataDir, "dev.json")) ? readDevState(dataDir) : undefined;
    urls = dev?.nodes.map((n) => n.peerUrl) ?? [];
    if (urls.length === 0) throw new UsageError(`no --url given and no running local cluster in ${dataDir} (dev.json): pass --url with a node's peer-port URL`);
  }
  for (const url of urls) if (!/^https?:\/\/[^/]+\/?$/.test(url)) throw new UsageError(`--url '${url}' is not a base URL like https://10.0.0.5:8081`);
  if (!exists(tokenFile)) throw new UsageError(`the cluster token is needed: ${tokenFile} does not exist; pass --token-file FILE`);
  return { urls, tokenFile, tlsDir };
}

async function connect(values: Values): Promise<ClusterAccess> {
  const plan = planConnection(values);
  const token = readTokenFile(plan.tokenFile);
  const tlsDir = plan.tlsDir;
  const tls: (() => ClientTlsOptions) | undefined = tlsDir ? () => clientTlsOptions(readTlsMaterial(tlsDir)) : undefined;
  const peerUrls = await peerUrlsOf(plan.urls, token, tls);
  return ClusterAccess.open({ peerUrls, token, tls });
}

/**
 * The peer-port URLs behind the URLs given: each is taken as a peer port when its admin API answers, otherwise as a
 * client port, whose `/v1/cluster` names the members' peer ports.
 */
async function peerUrlsOf(urls: string[], token: string, tls: (() => ClientTlsOptions) | undefined): Promise<string[]> {
  const admin = new AdminClient(token, 5000, tls);
  const out: string[] = [];
  const problems: string[] = [];
  for (const url of urls) {
    try {
      await admin.node(url);
      out.push(url);
      continue;
    } catch (err) {
      problems.push(`${url} (as a peer port): ${(err as Error).message}`);
    }
    try {
      const res = await fetch(new URL("/v1/cluster", url), { signal: AbortSignal.timeout(5000) });
      const body = (await res.json()) as { members?: { peerUrl?: unknown }[] };
      const peers = (body.members ?? []).map((m) => m.peerUrl).filter((u): u is string => typeof u === "string");
      if (res.ok && peers.length > 0) {
        out.push(...peers);
        continue;
      }
      problems.push(`${url} (as a client port): HTTP ${res.status}`);
    } catch (err) {
      problems.push(`${url} (as a client port): ${(err as Error).message}`);
    }
  }
  if (out.length === 0) throw new BackupError("cluster_unavailable", `cannot reach the cluster: ${problems.join("; ")}`);
  return [...new Set(out)];
}

/** SIGINT and SIGTERM stop the run cleanly: a backup keeps its progress, so running it again with its id resumes it. */
function stopOnSignals(): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const onSignal = () => {
    process.stderr.write("stopping...\n");
    controller.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  return {
    signal: controller.signal,
    dispose: () => {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    },
  };
}

/** A progress line for a program to read (the operator tails the backup Job's log for the last one). */
export function progressLine(p: BackupProgress): string {
  return JSON.stringify({ progress: { id: p.id, partitionsDone: p.partitionsDone, partitionsTotal: p.partitionsTotal, records: p.records, bytes: p.bytes } });
}

/** Progress lines on stderr, at most one a second, and always the last one. */
function throttledProgress(): (line: string, last: boolean) => void {
  let at = 0;
  return (line, last) => {
    const now = Date.now();
    if (!last && now - at < 1000) return;
    at = now;
    process.stderr.write(`${line}\n`);
  };
}

export function renderBackups(backups: BackupEntry[], where: string): string {
  if (backups.length === 0) return `no backups in ${where}\n`;
  const rows = [["ID", "STATE", "STARTED", "PARTITIONS", "RECORDS", "SIZE"]];
  for (const b of backups) {
    rows.push([
      b.id,
      b.state + (b.failure ? ` (${b.failure.slice(0, 60)})` : b.problem ? ` (${b.problem.slice(0, 60)})` : ""),
      b.startedAt ?? "-",
      b.partitionsTotal !== undefined ? `${b.partitionsDone ?? 0}/${b.partitionsTotal}` : "-",
      b.records !== undefined ? String(b.records) : "-",
      b.bytes !== undefined ? formatBytes(b.bytes) : "-",
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join("  ")).join("\n") + "\n";
}
