/**
 * A real S3-compatible object store for tests: SeaweedFS (`weed mini`, every component in one process) built by
 * scripts/build-seaweedfs.sh, on free loopback ports, in a temporary directory, with one access key. `stop` kills it
 * and removes its data.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePortBlock, REPO_ROOT } from "./dev-cluster.js";

export const S3_ACCESS_KEY = "dynamo-test";
export const S3_SECRET_KEY = "dynamo-test-secret-key";

export class SeaweedS3 {
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

  static built(): boolean {
    try {
      SeaweedS3.binary();
      return true;
    } catch {
      return false;
    }
  }

  static binary(): string {
    try {
      return execFileSync("bash", [join(REPO_ROOT, "scripts", "build-seaweedfs.sh"), "--print"], { encoding: "utf8" }).trim();
    } catch {
      throw new Error("SeaweedFS is not built: run `npm run seaweedfs:build` (scripts/build-seaweedfs.sh) first");
    }
  }

  static async start(buckets: string[]): Promise<SeaweedS3> {
    const binary = SeaweedS3.binary();
    const dir = mkdtempSync(join(tmpdir(), "dynamo-test-s3-"));
    const config = join(dir, "s3.json");
    writeFileSync(
      config,
      JSON.stringify({ identities: [{ name: "backup", credentials: [{ accessKey: S3_ACCESS_KEY, secretKey: S3_SECRET_KEY }], actions: ["Admin", "Read", "Write", "List", "Tagging"] }] }),
    );
    const base = await freePortBlock(16);
    const port = (i: number) => String(base + i);
    const args = [
      "mini",
      `-dir=${join(dir, "data")}`,
      "-ip=127.0.0.1",
      "-ip.bind=127.0.0.1",
      `-master.port=${port(0)}`,
      `-master.port.grpc=${port(1)}`,
      `-volume.port=${port(2)}`,
      `-volume.port.grpc=${port(3)}`,
      `-filer.port=${port(4)}`,
      `-filer.port.grpc=${port(5)}`,
      `-s3.port=${port(6)}`,
      `-s3.port.grpc=${port(7)}`,
      `-admin.port=${port(8)}`,
      `-admin.port.grpc=${port(9)}`,
      `-debug.port=${port(10)}`,
      `-webdav.port=${port(11)}`,
      "-admin.port.legacy=0",
      "-s3.port.iceberg=0",
      "-s3.port.lance=0",
      "-webdav=false",
      "-admin.ui=false",
      `-s3.config=${config}`,
      `-bucket=${buckets.join(",")}`,
    ];
    mkdirSync(join(dir, "data"));
    const child = spawn(binary, args, { stdio: ["ignore", "pipe", "pipe"], cwd: dir });
    const output: string[] = [];
    child.stdout!.on("data", (d: Buffer) => output.push(d.toString()));
    child.stderr!.on("data", (d: Buffer) => output.push(d.toString()));
    const store = new SeaweedS3(`http://127.0.0.1:${port(6)}`, child, dir, output);
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) {
        rmSync(dir, { recursive: true, force: true });
        throw new Error(`weed mini exited with ${child.exitCode}:\n${output.join("").slice(-4000)}`);
      }
      if (await store.ready(buckets[0]!)) return store;
      await new Promise((r) => setTimeout(r, 250));
    }
    await store.stop();
    throw new Error(`SeaweedFS did not serve S3 within 90 s:\n${output.join("").slice(-4000)}`);
  }

  /** Whether the S3 gateway answers for the bucket (403 or 200: it is up and the bucket exists). */
  private async ready(bucket: string): Promise<boolean> {
    try {
      const res = await fetch(`${this.endpoint}/${bucket}?list-type=2&max-keys=1`, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      return res.status === 200 || res.status === 403;
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
