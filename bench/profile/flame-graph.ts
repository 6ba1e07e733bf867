/**
 * A flame graph as a standalone SVG, from folded stacks: each box is a function, its width the share of on-CPU time
 * spent in it and in what it called, callers below callees. Hovering a box shows its full name, its time and, when
 * the number of operations is given, its microseconds per operation. Colours say where the code lives: the project
 * (green), Node's own JavaScript (orange), dependencies (purple), V8 and native code (grey).
 */
import { frameModuleOfName } from "./frame-names.js";

interface Box {
  name: string;
  us: number;
  children: Map<string, Box>;
}

export interface FlameGraphOptions {
  title: string;
  subtitle?: string;
  /** Operations completed while the samples were taken, to show microseconds per operation. */
  operations?: number;
  widthPx?: number;
}

const ROW_PX = 17;
const FONT_PX = 11;
const CHAR_PX = 6.2;
const MARGIN_PX = 10;
const HEADER_PX = 52;

function treeOf(stacks: ReadonlyMap<string, number>): Box {
  const root: Box = { name: "all", us: 0, children: new Map() };
  for (const [stack, us] of stacks) {
    root.us += us;
    let at = root;
    for (const name of stack.split(";")) {
      let child = at.children.get(name);
      if (!child) {
        child = { name, us: 0, children: new Map() };
        at.children.set(name, child);
      }
      child.us += us;
      at = child;
    }
  }
  return root;
}

function depthOf(box: Box): number {
  let deepest = 0;
  for (const child of box.children.values()) deepest = Math.max(deepest, depthOf(child));
  return deepest + 1;
}

/** A stable colour per module, in the hue family of where the code lives. */
function colourOf(name: string): string {
  const module = frameModuleOfName(name);
  let hash = 0;
  for (let i = 0; i < module.length; i++) hash = (hash * 31 + module.charCodeAt(i)) >>> 0;
  const jitter = hash % 30;
  if (module.startsWith("dynamo:")) return `hsl(${95 + jitter}, 55%, ${55 + (hash % 15)}%)`;
  if (module.startsWith("node:")) return `hsl(${25 + (jitter % 20)}, 85%, ${58 + (hash % 12)}%)`;
  if (module.startsWith("(")) return `hsl(0, 0%, ${70 + (hash % 15)}%)`;
  return `hsl(${265 + jitter}, 50%, ${65 + (hash % 12)}%)`;
}

function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function formatUs(us: number): string {
  return us >= 10_000 ? `${(us / 1000).toFixed(0)} ms` : us >= 1000 ? `${(us / 1000).toFixed(1)} ms` : `${us.toFixed(0)} µs`;
}

export function flameGraphSvg(stacks: ReadonlyMap<string, number>, options: FlameGraphOptions): string {
  const width = options.widthPx ?? 1200;
  const root = treeOf(stacks);
  const depth = depthOf(root);
  const height = HEADER_PX + depth * ROW_PX + MARGIN_PX;
  const scale = root.us > 0 ? (width - 2 * MARGIN_PX) / root.us : 0;
  const boxes: string[] = [];
  const describe = (box: Box): string => {
    const share = root.us > 0 ? ((100 * box.us) / root.us).toFixed(2) : "0";
    const perOp = options.operations ? `, ${(box.us / options.operations).toFixed(1)} µs per operation` : "";
    return `${box.name} (${formatUs(box.us)}, ${share}%${perOp})`;
  };
  const draw = (box: Box, x: number, level: number): void => {
    const w = box.us * scale;
    if (w < 0.3) return;
    const y = height - MARGIN_PX - (level + 1) * ROW_PX;
    const label = w > 3 * CHAR_PX ? box.name.slice(0, Math.floor((w - 6) / CHAR_PX)) : "";
    boxes.push(
      `<g><title>${escapeXml(describe(box))}</title><rect x="${x.toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="${ROW_PX - 1}" rx="2" fill="${level === 0 ? "#ccc" : colourOf(box.name)}"/>` +
        (label ? `<text x="${(x + 3).toFixed(1)}" y="${y + ROW_PX - 5}">${escapeXml(label)}</text>` : "") +
        "</g>",
    );
    let childX = x;
    const children = [...box.children.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const child of children) {
      draw(child, childX, level + 1);
      childX += child.us * scale;
    }
  };
  draw(root, MARGIN_PX, 0);
  const perOp = options.operations ? ` — ${(root.us / options.operations).toFixed(0)} µs of CPU per operation` : "";
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Verdana, sans-serif" font-size="${FONT_PX}">`,
    `<rect width="100%" height="100%" fill="#fdfdf8"/>`,
    `<text x="${MARGIN_PX}" y="20" font-size="15">${escapeXml(options.title)}${escapeXml(perOp)}</text>`,
    options.subtitle ? `<text x="${MARGIN_PX}" y="38" fill="#555">${escapeXml(options.subtitle)}</text>` : "",
    ...boxes,
    `</svg>`,
    "",
  ].join("\n");
}
