/**
 * Text for people at a terminal: colours that switch themselves off when the output is not a terminal or when
 * NO_COLOR is set (https://no-color.org), progress bars, and aligned tables. Pure: whether colour is on is decided
 * once from the stream and the environment and passed in, so the same drawing can be tested byte for byte.
 */
export interface Style {
  enabled: boolean;
  bold(text: string): string;
  dim(text: string): string;
  red(text: string): string;
  green(text: string): string;
  yellow(text: string): string;
  /** One of a fixed palette of distinguishable background colours, by index (owners on the ring). */
  swatch(index: number, text: string): string;
}

const sgr = (open: string, text: string) => `\u001b[${open}m${text}\u001b[0m`;
/** 256-colour backgrounds far enough apart to tell owners apart, and each readable under black text. */
const PALETTE = [39, 208, 76, 170, 220, 45, 203, 118, 141, 215, 51, 210, 154, 183, 228, 86];

export function style(enabled: boolean): Style {
  const wrap = (code: string) => (text: string) => (enabled ? sgr(code, text) : text);
  return {
    enabled,
    bold: wrap("1"),
    dim: wrap("2"),
    red: wrap("31"),
    green: wrap("32"),
    yellow: wrap("33"),
    swatch: (index, text) => (enabled ? sgr(`30;48;5;${PALETTE[index % PALETTE.length]}`, text) : text),
  };
}

/** Colour on only for a terminal, and never when NO_COLOR is set to anything. */
export function colourWanted(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  return stream.isTTY === true && (env.NO_COLOR === undefined || env.NO_COLOR === "") && env.TERM !== "dumb";
}

/** `[#########...........]  45%`: `width` cells between the brackets. */
export function progressBar(fraction: number, width = 30): string {
  const f = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
  const filled = Math.round(f * width);
  return `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${String(Math.floor(f * 100)).padStart(3)}%`;
}

/** A bar for a whole percent counted elsewhere (a ring change's `percentMoved`, never 100% before the end). */
export function percentBar(percent: number, width = 30): string {
  return progressBar(percent / 100, width).replace(/\s*\d+%$/, ` ${String(percent).padStart(3)}%`);
}

/** Length of text as a terminal shows it: escape sequences take no room. */
export function visibleLength(text: string): number {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u001b\[[0-9;]*m/g, "").length;
}

/** Rows as aligned columns (two spaces apart); cells may carry colour. */
export function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, visibleLength(cell))));
  return rows
    .map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell + " ".repeat((widths[i] ?? 0) - visibleLength(cell)))).join("  ").trimEnd())
    .join("\n");
}
