/**
 * Draws a timeline (./timeline.ts) as one self-contained HTML page with inline SVG: operation latency (log scale,
 * failures in red, timeouts in orange), successes and errors per second, and per node memory and hints, with every
 * fault window shaded across all panels and labelled, and anomalies marked. A pure function of the events.
 */
import type { AnomalyEvent, FaultEvent, OpEvent, SampleEvent, TimelineEvent } from "./timeline.js";

const WIDTH = 1200;
const LEFT = 70;
const RIGHT = 20;
const PLOT_W = WIDTH - LEFT - RIGHT;
const OK_POINTS_MAX = 15_000;
const KIND_COLORS: Record<string, string> = {
  partition: "#f4a3a3",
  "one-way": "#f7c59f",
  asymmetric: "#f9d99a",
  link: "#a8d5ba",
  skew: "#b5c7f2",
  kill: "#d7b5f2",
  pause: "#e6b8d9",
  wipe: "#c9c9c9",
  ring: "#9fd8e8",
  "long-partition": "#f08080",
};
const NODE_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2"];

interface Window {
  kind: string;
  detail: string;
  start: number;
  end: number;
}

function esc(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function windows(events: TimelineEvent[], endT: number): Window[] {
  const open = new Map<number, FaultEvent>();
  const result: Window[] = [];
  for (const e of events) {
    if (e.type !== "fault") continue;
    if (e.phase === "start") open.set(e.id, e);
    else {
      const start = open.get(e.id);
      if (start) result.push({ kind: start.kind, detail: start.detail, start: start.t, end: e.t });
      open.delete(e.id);
    }
  }
  for (const s of open.values()) result.push({ kind: s.kind, detail: s.detail, start: s.t, end: endT });
  return result;
}

export function renderTimeline(events: TimelineEvent[], title: string): string {
  const ops = events.filter((e): e is OpEvent => e.type === "op");
  const samples = events.filter((e): e is SampleEvent => e.type === "sample");
  const anomalies = events.filter((e): e is AnomalyEvent => e.type === "anomaly");
  const endT = Math.max(1000, ...events.map((e) => e.t));
  const faultWindows = windows(events, endT);
  const x = (t: number) => LEFT + (t / endT) * PLOT_W;

  // Lanes for fault labels, so overlapping windows stay readable.
  const laneEnds: number[] = [];
  const lanes = faultWindows.map((w) => {
    let lane = laneEnds.findIndex((end) => end <= w.start);
    if (lane < 0) lane = laneEnds.length;
    laneEnds[lane] = w.end;
    return lane;
  });
  const laneH = 14;
  const faultH = Math.max(1, laneEnds.length) * laneH + 6;

  const panels: { title: string; height: number; body: string }[] = [];

  // Latency, log scale 1 ms .. 20 s.
  {
    const h = 260;
    const y = (ms: number) => h - 20 - ((Math.log10(Math.max(1, Math.min(ms, 20_000))) - 0) / Math.log10(20_000)) * (h - 30);
    const okOps = ops.filter((o) => o.outcome === "ok");
    const step = Math.max(1, Math.ceil(okOps.length / OK_POINTS_MAX));
    let body = "";
    for (const ms of [1, 10, 100, 1000, 10_000]) {
      body += `<line x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${y(ms)}" y2="${y(ms)}" stroke="#eee"/><text x="${LEFT - 6}" y="${y(ms) + 4}" text-anchor="end">${ms >= 1000 ? `${ms / 1000} s` : `${ms} ms`}</text>`;
    }
    for (let i = 0; i < okOps.length; i += step) {
      const o = okOps[i]!;
      body += `<circle cx="${x(o.t).toFixed(1)}" cy="${y(o.latencyMs).toFixed(1)}" r="1.3" fill="#4a78b5" fill-opacity="0.5"/>`;
    }
    for (const o of ops) {
      if (o.outcome === "ok") continue;
      const color = o.outcome === "timeout" ? "#f08c00" : "#d62728";
      body += `<rect x="${(x(o.t) - 1.5).toFixed(1)}" y="${(y(o.latencyMs) - 1.5).toFixed(1)}" width="3" height="3" fill="${color}"><title>${esc(`${o.workload} ${o.f} ${o.key} via ${o.node}: ${o.status ?? ""} ${o.error ?? o.outcome}`)}</title></rect>`;
    }
    panels.push({ title: `operation latency (${ops.length} operations; blue ok, red failed, orange timed out)`, height: h, body });
  }

  // Successes and errors per second.
  {
    const h = 150;
    const seconds = Math.ceil(endT / 1000);
    const okPer = new Array<number>(seconds + 1).fill(0);
    const errPer = new Array<number>(seconds + 1).fill(0);
    for (const o of ops) (o.outcome === "ok" ? okPer : errPer)[Math.floor(o.t / 1000)]! += 1;
    const max = Math.max(1, ...okPer, ...errPer);
    const y = (v: number) => h - 20 - (v / max) * (h - 30);
    let body = `<text x="${LEFT - 6}" y="${y(max) + 4}" text-anchor="end">${max}/s</text><text x="${LEFT - 6}" y="${y(0) + 4}" text-anchor="end">0</text>`;
    const barW = Math.max(1, PLOT_W / (seconds + 1));
    errPer.forEach((v, s) => {
      if (v > 0) body += `<rect x="${x(s * 1000).toFixed(1)}" y="${y(v).toFixed(1)}" width="${barW.toFixed(1)}" height="${(y(0) - y(v)).toFixed(1)}" fill="#d62728" fill-opacity="0.7"><title>${s} s: ${v} errors</title></rect>`;
    });
    body += `<polyline fill="none" stroke="#2a6f2a" stroke-width="1.2" points="${okPer.map((v, s) => `${x(s * 1000 + 500).toFixed(1)},${y(v).toFixed(1)}`).join(" ")}"/>`;
    panels.push({ title: "successes (green line) and errors (red bars) per second", height: h, body });
  }

  // Per-node series from samples.
  const series = (name: string, label: string, scale: (v: number) => number, unit: string) => {
    const byNode = new Map<string, SampleEvent[]>();
    for (const s of samples) if (s.values[name] !== undefined) byNode.set(s.node, [...(byNode.get(s.node) ?? []), s]);
    if (byNode.size === 0) return;
    const h = 130;
    const max = Math.max(1, ...samples.map((s) => scale(s.values[name] ?? 0)));
    const y = (v: number) => h - 20 - (v / max) * (h - 30);
    let body = `<text x="${LEFT - 6}" y="${y(max) + 4}" text-anchor="end">${max.toFixed(max < 10 ? 1 : 0)} ${unit}</text><text x="${LEFT - 6}" y="${y(0) + 4}" text-anchor="end">0</text>`;
    [...byNode.keys()].sort().forEach((node, i) => {
      const color = NODE_COLORS[i % NODE_COLORS.length]!;
      const points = byNode.get(node)!.map((s) => `${x(s.t).toFixed(1)},${y(scale(s.values[name]!)).toFixed(1)}`).join(" ");
      body += `<polyline fill="none" stroke="${color}" stroke-width="1.2" points="${points}"><title>${esc(node)}</title></polyline>`;
      body += `<text x="${WIDTH - RIGHT - 60}" y="${14 + i * 12}" fill="${color}">${esc(node)}</text>`;
    });
    panels.push({ title: label, height: h, body });
  };
  series("rssBytes", "resident memory per node", (v) => v / 1024 / 1024, "MiB");
  series("hints", "hints held per node", (v) => v, "");
  series("eventLoopLagMs", "event-loop lag per node (p99)", (v) => v, "ms");

  let yOffset = 40 + faultH;
  const totalH = yOffset + panels.reduce((sum, p) => sum + p.height + 24, 0) + 30;
  let svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${totalH}" font-family="sans-serif" font-size="11">`;
  svg += `<text x="${LEFT}" y="18" font-size="14" font-weight="bold">${esc(title)}</text>`;
  faultWindows.forEach((w, i) => {
    const color = KIND_COLORS[w.kind] ?? "#ddd";
    const wx = x(w.start);
    const ww = Math.max(1, x(w.end) - wx);
    svg += `<rect x="${wx.toFixed(1)}" y="${30 + lanes[i]! * laneH}" width="${ww.toFixed(1)}" height="${laneH - 2}" fill="${color}"><title>${esc(`${w.kind}: ${w.detail} (${(w.start / 1000).toFixed(1)}–${(w.end / 1000).toFixed(1)} s)`)}</title></rect>`;
    svg += `<text x="${(wx + 2).toFixed(1)}" y="${30 + lanes[i]! * laneH + 10}" font-size="9">${esc(w.kind === "skew" || w.kind === "link" ? w.detail : w.kind)}</text>`;
  });
  for (const p of panels) {
    svg += `<text x="${LEFT}" y="${yOffset + 12}" font-weight="bold">${esc(p.title)}</text>`;
    svg += `<g transform="translate(0, ${yOffset + 16})">`;
    for (const w of faultWindows) {
      svg += `<rect x="${x(w.start).toFixed(1)}" y="0" width="${Math.max(1, x(w.end) - x(w.start)).toFixed(1)}" height="${p.height - 20}" fill="${KIND_COLORS[w.kind] ?? "#ddd"}" fill-opacity="0.35"/>`;
    }
    svg += `<rect x="${LEFT}" y="0" width="${PLOT_W}" height="${p.height - 20}" fill="none" stroke="#999"/>`;
    svg += p.body;
    for (const a of anomalies) {
      svg += `<line x1="${x(a.t).toFixed(1)}" x2="${x(a.t).toFixed(1)}" y1="0" y2="${p.height - 20}" stroke="#b00" stroke-width="1.5" stroke-dasharray="3,2"><title>${esc(`${a.checker}: ${a.message}`)}</title></line>`;
    }
    svg += `</g>`;
    yOffset += p.height + 24;
  }
  const tickEvery = niceTick(endT / 1000);
  for (let s = 0; s <= endT / 1000; s += tickEvery) svg += `<text x="${x(s * 1000).toFixed(1)}" y="${yOffset + 10}" text-anchor="middle">${s} s</text>`;
  svg += `</svg>`;

  const legend = Object.entries(KIND_COLORS)
    .map(([kind, color]) => `<span style="background:${color};padding:1px 6px;margin-right:6px">${kind}</span>`)
    .join("");
  const anomalyList = anomalies.length
    ? `<h3>Anomalies (${anomalies.length})</h3><ul>${anomalies.slice(0, 200).map((a) => `<li>${(a.t / 1000).toFixed(1)} s — ${esc(a.checker)}: ${esc(a.message)}</li>`).join("")}</ul>`
    : "<p>No anomalies.</p>";
  const faultList = `<h3>Faults (${faultWindows.length})</h3><ol>${faultWindows.map((w) => `<li>${(w.start / 1000).toFixed(1)}–${(w.end / 1000).toFixed(1)} s: ${esc(w.kind)} ${esc(w.detail)}</li>`).join("")}</ol>`;
  return `<!doctype html><html><head><meta charset="utf-8"><title>${esc(title)}</title></head><body style="font-family:sans-serif">${svg}<p>${legend}</p>${anomalyList}${faultList}</body></html>\n`;
}

function niceTick(totalSeconds: number): number {
  for (const step of [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800]) if (totalSeconds / step <= 20) return step;
  return 3600;
}
