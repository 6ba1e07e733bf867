import assert from "node:assert/strict";
import { BackupError, checkBackupId, formatLocation, newBackupId, parseLocation } from "../../../backup/index.js";

describe("backup locations", function () {
  it("reads file:// and s3:// locations", function () {
    assert.deepEqual(parseLocation("file:///var/backups/dynamo/"), { kind: "file", dir: "/var/backups/dynamo" });
    assert.deepEqual(parseLocation("s3://my-backups"), { kind: "s3", bucket: "my-backups", prefix: "" });
    assert.deepEqual(parseLocation("s3://my-backups/prod/cluster-a/"), { kind: "s3", bucket: "my-backups", prefix: "prod/cluster-a" });
    assert.equal(formatLocation(parseLocation("s3://my-backups/prod/")), "s3://my-backups/prod");
    assert.equal(formatLocation(parseLocation("file:///tmp/x")), "file:///tmp/x");
  });

  it("refuses what is not a location, naming the problem", function () {
    const cases: [string, RegExp][] = [
      ["file://relative/dir", /absolute/],
      ["s3://UPPER/x", /not an S3 bucket name/],
      ["s3://ok-bucket/a/../b", /'\.\.'/],
      ["/var/backups", /file:\/\/\/absolute\/directory or s3:\/\/bucket\/prefix/],
      ["gs://bucket/x", /not a backup location/],
    ];
    for (const [text, message] of cases) {
      assert.throws(() => parseLocation(text), (err: unknown) => err instanceof BackupError && err.code === "invalid_location" && message.test(err.message), text);
    }
  });

  it("makes ids that sort by start time and only hold safe characters", function () {
    const a = newBackupId(Date.parse("2026-03-01T10:00:00.123Z"), () => 0.5);
    const b = newBackupId(Date.parse("2026-03-01T10:00:01Z"), () => 0);
    assert.equal(a, "20260301T100000Z-8000");
    assert.ok(a < b);
    assert.equal(checkBackupId(a), a);
    for (const bad of ["", "../x", "a/b", "-lead", "x".repeat(129)]) {
      assert.throws(() => checkBackupId(bad), (err: unknown) => err instanceof BackupError && err.code === "invalid_location", bad);
    }
  });
});
