/**
 * Reading the few numbers the custom metrics API needs from a node's Prometheus text exposition (`GET /metrics`).
 * Only what the operator asks for is parsed: the sum of every sample of one metric family, whatever its labels.
 */

/**
 * The sum of the samples named exactly `name` (with any labels), or undefined when there is none. Comments, other
 * families and a family's `_bucket`/`_sum`/`_count` series are skipped; label values may hold any character, escaped
 * quotes included. A sample whose value is not a number (NaN, a malformed line) is an error, not a silent zero.
 */
export function sumSamples(text: string, name: string): number | undefined {
  let sum: number | undefined;
  for (const rawLine of text.split("\n")) {
    const line = rawLine.trim();
    if (line === "" || line.startsWith("#") || !line.startsWith(name)) continue;
    const next = line[name.length];
    if (next !== "{" && next !== " " && next !== "\t") continue;
    const rest = next === "{" ? line.slice(endOfLabels(line, name.length) + 1) : line.slice(name.length);
    const value = Number(rest.trim().split(/\s+/)[0]);
    if (!Number.isFinite(value)) throw new Error(`the sample '${line.slice(0, 120)}' has no numeric value`);
    sum = (sum ?? 0) + value;
  }
  return sum;
}

/** The index of the `}` closing the label set that opens at `open`, skipping quoted label values. */
function endOfLabels(line: string, open: number): number {
  let quoted = false;
  for (let i = open + 1; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === "\\") i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === "}") return i;
  }
  throw new Error(`the sample '${line.slice(0, 120)}' has an unclosed label set`);
}
