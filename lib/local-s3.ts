/**
 * Starting a real S3-compatible server from another program (the backup tests, `npm run bench:backup --store s3`):
 * Versity Gateway (versitygw, Apache-2.0) built by scripts/build-versitygw.sh, serving the S3 API over a temporary
 * directory (its POSIX backend: a bucket is a directory, an object the file at its key) on a free loopback port, with
 * one access key. `objectPath` names the file behind an object, so a test can corrupt or remove what the store holds.
 * `stop` kills the server and removes its data.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePortBlock, REPO_ROOT } from "./local-cluster.js";

export const S3_ACCESS_KEY = "dynamo-test";
export const S3_SECRET_KEY = "dynamo-test-secret-key";

const BUILD_SCRIPT = join(REPO_ROOT, "scripts", "build-versitygw.sh");
const START_ATTEMPTS = 3;

export class S3Server {
  private constructor(
    readonly endpoint: string,
    private readonly child: ChildProcess,
    private readonly dir: string,
    private readonly output: string[],
  ) {}

  /** The credentials as the AWS environment variables the CLI reads. */
  get env(): Record<string, string> {
    return { AWS_ACCESS_KEY_ID: S3_ACCESS_KEY, AWS_SECRET_ACCESS_KEY: S3_SECRET_KEY, AWS_REGION: "us-east-1" };
  }

  /** The file that holds `key` in `bucket`. */
  objectPath(bucket: string, key = ""): string {
    return join(this.dir, "data", bucket, key);
  }

  /**
   * Whether a suite that needs the server may run. Where it is not built the suite skips, saying so, except where
   * DYNAMO_REQUIRE_S3=1 (CI sets it, having built the server): there a missing binary is an error.
   */
  static available(): boolean {
    try {
      S3Server.binary();
      return true;
    } catch (err) {
      if (process.env.DYNAMO_REQUIRE_S3 === "1") throw err;
      console.log(`    !!! SKIPPED: ${(err as Error).message} !!!`);
      return false;
    }
  }

  static binary(): string {
    try {
      return execFileSync("bash", [BUILD_SCRIPT, "--print"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
    } catch {
      throw new Error("the S3 server (versitygw) is not built: run `npm run versitygw:build` (scripts/build-versitygw.sh)");
    }
  }

  /** Starts a server holding the given (empty) buckets; a port another process took in between is retried. */
  static async start(buckets: string[]): Promise<S3Server> {
    const binary = S3Server.binary();
    for (let attempt = 1; ; attempt++) {
      const dir = mkdtempSync(join(tmpdir(), "dynamo-test-s3-"));
      // The POSIX backend takes every directory under its root as a bucket.
      for (const bucket of buckets) mkdirSync(join(dir, "data", bucket), { recursive: true });
      const port = await freePortBlock(1);
      const args = ["--access", S3_ACCESS_KEY, "--secret", S3_SECRET_KEY, "--region", "us-east-1", "--port", `127.0.0.1:${port}`, "posix", join(dir, "data")];
      const child = spawn(binary, args, { stdio: ["ignore", "pipe", "pipe"], cwd: dir });
      const output: string[] = [];
      child.stdout!.on("data", (d: Buffer) => output.push(d.toString()));
      child.stderr!.on("data", (d: Buffer) => output.push(d.toString()));
      const server = new S3Server(`http://127.0.0.1:${port}`, child, dir, output);
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline && child.exitCode === null && !(await server.ready())) await new Promise((r) => setTimeout(r, 100));
      if (child.exitCode === null && Date.now() < deadline) return server;
      await server.stop();
      const why = child.exitCode !== null ? `exited with ${child.exitCode}` : "did not answer within 30 s";
      if (attempt >= START_ATTEMPTS || !/address already in use/.test(server.log())) {
        throw new Error(`versitygw ${why}:\n${server.log().slice(-4000)}`);
      }
    }
  }

  /** Whether the server answers S3 requests (an unsigned request is refused with 403: it is up). */
  private async ready(): Promise<boolean> {
    try {
      const res = await fetch(`${this.endpoint}/`, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      return res.status === 403 || res.status === 200;
    } catch {
      return false;
    }
  }

  log(): string {
    return this.output.join("");
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = once(this.child, "exit");
      this.child.kill("SIGTERM");
      const timer = setTimeout(() => this.child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
