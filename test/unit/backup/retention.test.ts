import assert from "node:assert/strict";
import { retentionVictims, type RetentionCandidate } from "../../../backup/index.js";

const DAY = 24 * 3600 * 1000;
const NOW = Date.parse("2026-06-30T00:00:00Z");

function backup(id: string, daysAgo: number, state: RetentionCandidate["state"] = "complete"): RetentionCandidate {
  return { id, state, startedAtMs: NOW - daysAgo * DAY };
}

describe("backup retention", function () {
  it("keeps the newest complete backups by count, deleting the oldest first", function () {
    const backups = [backup("d1", 1), backup("d2", 2), backup("d3", 3), backup("d4", 4)];
    assert.deepEqual(retentionVictims(backups, { keepLast: 2 }, NOW), ["d4", "d3"]);
  });

  it("deletes by age", function () {
    const backups = [backup("d1", 1), backup("d8", 8), backup("d30", 30)];
    assert.deepEqual(retentionVictims(backups, { maxAgeMs: 7 * DAY }, NOW), ["d30", "d8"]);
  });

  it("never deletes the newest complete backup, however old", function () {
    const backups = [backup("d40", 40), backup("d50", 50), backup("d2", 2, "failed")];
    assert.deepEqual(retentionVictims(backups, { maxAgeMs: 7 * DAY, keepLast: 0 }, NOW), ["d50"]);
  });

  it("never deletes a backup in progress, however old", function () {
    const backups = [backup("d1", 1), backup("run", 30, "running")];
    assert.deepEqual(retentionVictims(backups, { maxAgeMs: 7 * DAY, keepLast: 1 }, NOW), []);
  });

  it("deletes failed and abandoned backups older than the newest complete one", function () {
    const backups = [backup("d1", 1), backup("f2", 2, "failed"), backup("i3", 3, "incomplete"), backup("f0", 0, "failed")];
    assert.deepEqual(retentionVictims(backups, {}, NOW), ["i3", "f2"]);
  });
});
