import assert from "node:assert/strict";
import { CronError, lastDueTime, nextCronTime, parseCron } from "../../../../operator/reconcile/cron.js";

const at = (iso: string) => Date.parse(iso);
const next = (expr: string, after: string) => new Date(nextCronTime(parseCron(expr), at(after))).toISOString();

describe("cron schedules", () => {
  it("fires at the next matching minute, strictly after the time given", () => {
    assert.equal(next("0 2 * * *", "2026-11-30T01:59:59Z"), "2026-11-30T02:00:00.000Z");
    assert.equal(next("0 2 * * *", "2026-11-30T02:00:00Z"), "2026-12-01T02:00:00.000Z");
    assert.equal(next("*/15 * * * *", "2026-11-30T10:07:00Z"), "2026-11-30T10:15:00.000Z");
    assert.equal(next("30 23 31 12 *", "2026-01-01T00:00:00Z"), "2026-12-31T23:30:00.000Z");
  });

  it("reads ranges, lists, steps, names and the macros", () => {
    assert.equal(next("0 9-17/4 * * MON-FRI", "2026-11-28T00:00:00Z"), "2026-11-30T09:00:00.000Z"); // Saturday → Monday
    assert.equal(next("0 0 1 JAN,jul *", "2026-02-01T00:00:00Z"), "2026-07-01T00:00:00.000Z");
    assert.equal(next("@hourly", "2026-11-30T10:07:00Z"), "2026-11-30T11:00:00.000Z");
    assert.equal(next("@weekly", "2026-11-30T10:07:00Z"), "2026-12-06T00:00:00.000Z");
    assert.equal(next("0 0 * * 7", "2026-11-30T10:07:00Z"), "2026-12-06T00:00:00.000Z", "7 is Sunday");
  });

  it("runs on either day field when both are restricted, as cron does", () => {
    // The 1st of the month or any Friday: Friday 4 December comes before 1 January.
    assert.equal(next("0 0 1 * FRI", "2026-12-01T12:00:00Z"), "2026-12-04T00:00:00.000Z");
  });

  it("refuses what is not a schedule, naming the field", () => {
    assert.throws(() => parseCron("0 2 * *"), CronError);
    assert.throws(() => parseCron("60 * * * *"), /minute '60'/);
    assert.throws(() => parseCron("0 0 * * 5-1"), /backwards/);
    assert.throws(() => parseCron("*/0 * * * *"), /step/);
    assert.throws(() => nextCronTime(parseCron("0 0 30 2 *"), 0), /never fires/);
  });

  it("finds the latest time due since the last run, however long the operator was away", () => {
    const cron = parseCron("0 2 * * *");
    assert.equal(lastDueTime(cron, at("2026-11-29T02:00:00Z"), at("2026-11-30T01:59:00Z")), undefined);
    assert.equal(lastDueTime(cron, at("2026-11-29T02:00:00Z"), at("2026-11-30T02:00:30Z")), at("2026-11-30T02:00:00Z"));
    // Missed runs collapse into the latest one.
    assert.equal(lastDueTime(cron, at("2026-10-01T02:00:00Z"), at("2026-11-30T05:00:00Z")), at("2026-11-30T02:00:00Z"));
    const weekly = parseCron("@weekly");
    assert.equal(lastDueTime(weekly, at("2026-10-01T00:00:00Z"), at("2026-12-02T05:00:00Z")), at("2026-11-29T00:00:00Z"));
  });
});
