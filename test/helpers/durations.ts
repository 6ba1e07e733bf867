/**
 * How long the fixed-duration phases of `npm test` run (a Jepsen schedule, a fuzz budget, a load phase). CI runs the
 * short form, which already reaches every fault kind and every assertion; `DYNAMO_TEST_LONG=1` runs the longer form
 * of each, for soak runs that want more of the same schedule (see README.md, Development).
 */
export const LONG_TESTS = process.env.DYNAMO_TEST_LONG === "1";

/** `short` in an ordinary run, `long` under DYNAMO_TEST_LONG=1. */
export function testDuration(short: number, long: number): number {
  return LONG_TESTS ? long : short;
}
