/**
 * Random HTTP/1.1 message heads for the differential tests of the port's request reader and the client's response
 * reader: well-formed ones, or with mutations (odd line ends, tabs around values, control characters in a field, names
 * that are not tokens, folded lines) that some parsers take and others refuse, or frame otherwise.
 */
import type { SeededRandom } from "../../lib/random.js";

export interface HeadMutator {
  /** Whether this mutation point takes its odd branch: never for a well-formed message. */
  odd(): boolean;
  /** A line end: CRLF, or by mutation a lone CR or LF or a doubled one. */
  eol(): string;
  /** Blanks around a field value: spaces, or by mutation tabs too. */
  blank(): string;
  /** A field line no parser should take as it is. */
  malformedField(): string;
  /** The head: the start line, the fields (sometimes shuffled), each with a line end, and the empty line. */
  head(startLine: string, fields: string[]): string;
}

/**
 * Half of the messages are well formed; the others have one to three mutations, each mutation point taking its odd
 * branch with a probability that makes about that many of them odd in all.
 */
export function headMutator(random: SeededRandom): HeadMutator {
  const mutations = random.chance(0.5) ? 0 : random.between(1, 3);
  const odd = () => mutations > 0 && random.chance(mutations / 12);
  const eol = () => (odd() ? random.pick(["\n", "\r", "\r\r\n", "\n\r"]) : "\r\n");
  const malformed: Array<() => string> = [
    () => `X-Dynamo-Context: ${random.pick(["a\u0001b", "a\u007fb", "a\rb", "a\nContent-Length: 0", "a\u0000b"])}`,
    // Not `__proto__`: Node's HTTP client drops that field (it lands on the fields object's prototype) where the
    // client's reader keeps it, a difference no framing depends on.
    () => `${random.pick(["a b", "a\tb", "", "X-\u0080", "X:Y", "constructor", "toString"])}: v`,
    () => " folded continuation",
    () => "\tfolded with a tab",
    () => "no colon here",
  ];
  return {
    odd,
    eol,
    blank: () => random.pick(["", " ", "  ", ...(odd() ? ["\t", " \t"] : [])]),
    malformedField: () => random.pick(malformed)(),
    head: (startLine, fields) => {
      const ordered = random.chance(0.3) ? random.shuffle(fields) : fields;
      return `${startLine}${eol()}${ordered.map((field) => `${field}${eol()}`).join("")}${eol()}`;
    },
  };
}
