/**
 * A location in S3 or an S3-compatible store (`s3://bucket/prefix`), through the AWS SDK v3. Large objects go up as
 * multipart uploads (8 MiB parts, two in flight, so an upload holds at most 16 MiB in memory), small ones in one
 * request; either way the object appears whole or not at all, and a failed multipart upload is aborted so no parts
 * are left behind. Endpoint, region and credentials come from the options (the operator reads them from a Secret) or
 * from the usual AWS environment variables and files; `forcePathStyle` serves stores that do not do virtual-host
 * addressing. Integrity is end to end (the manifest's SHA-256 of every file), so the SDK is told to add its own
 * checksums only where the S3 API requires them, which keeps stores that do not know the newer checksum headers working.
 */
import { pipeline, Transform, type Readable } from "node:stream";
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, S3Client, type S3ClientConfig } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { BackupError } from "./errors.js";
import type { ObjectStore, StoredObject } from "./object-store.js";

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface S3StoreOptions {
  bucket: string;
  /** Keys are written under `prefix/`; "" for the bucket's root. */
  prefix: string;
  /** e.g. `http://127.0.0.1:8333` for a local store; absent: AWS (or AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL). */
  endpoint?: string;
  /** Absent: AWS_REGION, AWS_DEFAULT_REGION, else us-east-1 (what most S3-compatible stores accept). */
  region?: string;
  /** Path-style addressing (`endpoint/bucket/key`), which most S3-compatible stores need. */
  forcePathStyle?: boolean;
  /** Absent: the SDK's default chain (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, profiles, web identity, ...). */
  credentials?: S3Credentials;
}

export const S3_DEFAULTS = {
  partSizeBytes: 8 * 1024 * 1024,
  partsInFlight: 2,
  deletesInFlight: 8,
  maxAttempts: 5,
};

export class S3Store implements ObjectStore {
  private readonly client: S3Client;
  private readonly root: string;

  constructor(private readonly options: S3StoreOptions) {
    const config: S3ClientConfig = {
      region: options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? "us-east-1",
      forcePathStyle: options.forcePathStyle,
      maxAttempts: S3_DEFAULTS.maxAttempts,
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
    };
    if (options.endpoint) config.endpoint = options.endpoint;
    if (options.credentials) config.credentials = options.credentials;
    this.client = new S3Client(config);
    this.root = options.prefix ? `${options.prefix}/` : "";
  }

  get description(): string {
    return `s3://${this.options.bucket}${this.options.prefix ? `/${this.options.prefix}` : ""}`;
  }

  async put(key: string, body: Buffer | Readable, contentType: string): Promise<number> {
    let bytes = 0;
    let counted: Buffer | Transform = body as Buffer;
    if (!Buffer.isBuffer(body)) {
      const counter = new Transform({
        transform(chunk: Buffer, _encoding, done) {
          bytes += chunk.length;
          done(null, chunk);
        },
      });
      // A failing source destroys the counter with its error, which fails (and aborts) the upload reading from it.
      pipeline(body, counter, () => undefined);
      counted = counter;
    }
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.options.bucket, Key: this.root + key, Body: counted, ContentType: contentType },
      partSize: S3_DEFAULTS.partSizeBytes,
      queueSize: S3_DEFAULTS.partsInFlight,
      leavePartsOnError: false,
    });
    try {
      await upload.done();
    } catch (err) {
      throw this.failure(`writing ${key}`, key, err);
    }
    return Buffer.isBuffer(body) ? body.length : bytes;
  }

  async get(key: string): Promise<Readable> {
    try {
      const answer = await this.client.send(new GetObjectCommand({ Bucket: this.options.bucket, Key: this.root + key }));
      return answer.Body as Readable;
    } catch (err) {
      throw this.failure(`reading ${key}`, key, err);
    }
  }

  async head(key: string): Promise<number | undefined> {
    try {
      const answer = await this.client.send(new HeadObjectCommand({ Bucket: this.options.bucket, Key: this.root + key }));
      return answer.ContentLength ?? 0;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw this.failure(`looking at ${key}`, key, err);
    }
  }

  async list(prefix: string): Promise<StoredObject[]> {
    const out: StoredObject[] = [];
    let token: string | undefined;
    do {
      const page = await this.send(`listing ${prefix || "/"}`, () =>
        this.client.send(new ListObjectsV2Command({ Bucket: this.options.bucket, Prefix: this.root + prefix, ContinuationToken: token })),
      );
      for (const item of page.Contents ?? []) if (item.Key) out.push({ key: item.Key.slice(this.root.length), bytes: item.Size ?? 0 });
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async children(prefix: string): Promise<string[]> {
    const out = new Set<string>();
    let token: string | undefined;
    const base = this.root + prefix;
    do {
      const page = await this.send(`listing ${prefix || "/"}`, () =>
        this.client.send(new ListObjectsV2Command({ Bucket: this.options.bucket, Prefix: base, Delimiter: "/", ContinuationToken: token })),
      );
      for (const common of page.CommonPrefixes ?? []) if (common.Prefix) out.add(common.Prefix.slice(base.length).replace(/\/$/, ""));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return [...out].sort();
  }

  async delete(keys: string[]): Promise<void> {
    // One request per key: DeleteObjects needs a checksum header that not every S3-compatible store accepts alike.
    let next = 0;
    const worker = async () => {
      while (next < keys.length) {
        const key = keys[next++]!;
        await this.send(`deleting ${key}`, () => this.client.send(new DeleteObjectCommand({ Bucket: this.options.bucket, Key: this.root + key })));
      }
    };
    await Promise.all(Array.from({ length: Math.min(S3_DEFAULTS.deletesInFlight, keys.length) }, worker));
  }

  close(): void {
    this.client.destroy();
  }

  private async send<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw this.failure(what, undefined, err);
    }
  }

  private failure(what: string, key: string | undefined, err: unknown): BackupError {
    if (key !== undefined && isNotFound(err)) {
      return new BackupError("missing_object", `${this.description}/${key} does not exist`, { object: key, cause: err });
    }
    const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
    const status = e.$metadata?.httpStatusCode ? ` (HTTP ${e.$metadata.httpStatusCode})` : "";
    return new BackupError("store_failed", `${this.description}: ${what} failed: ${e.name ?? "Error"}${status}: ${e.message ?? String(err)}`, { cause: err, object: key });
  }
}

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === "NoSuchKey" || e?.name === "NotFound" || e?.$metadata?.httpStatusCode === 404;
}
