// The console page: polls the serving node's overview every two seconds and draws it. Plain JavaScript with no
// dependencies and no build step; everything it shows comes from /ui/api/overview (a relative URL, so the page also
// works behind a proxy's path prefix). Text from the cluster is always set as text, never parsed as HTML.
"use strict";

const POLL_MS = 2000;
const SVG = "http://www.w3.org/2000/svg";
const PALETTE = ["#4aa3ff", "#ff9f43", "#5fd38d", "#c678dd", "#f5c04a", "#36cfc9", "#ff6b6b", "#a0d911", "#9b8cff", "#ffb38a", "#3dd6f5", "#f78fb3", "#b7eb8f", "#d3adf7", "#ffe58f", "#87e8de"];
const colours = new Map();

function colourOf(id) {
  if (!colours.has(id)) colours.set(id, PALETTE[colours.size % PALETTE.length]);
  return colours.get(id);
}

/** A colour chip; its colour is set through the CSSOM, which the page's Content-Security-Policy allows (style attributes it does not). */
function swatch(id) {
  const chip = el("span", { class: "swatch" });
  chip.style.background = colourOf(id);
  return chip;
}

function el(tag, attrs = {}, text) {
  const node = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = String(text);
  return node;
}

function bytes(n) {
  if (n === undefined || n === null) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return i === 0 ? `${Math.round(n)} B` : `${n < 10 ? n.toFixed(1) : Math.round(n)} ${units[i]}`;
}

function num(n, digits = 0) {
  return n === undefined || n === null ? "–" : Number(n).toFixed(digits);
}

/** An arc of the ring from angle a0 to a1 (radians, 0 at the top, clockwise) between radii r0 and r1. */
function arcPath(a0, a1, r0, r1) {
  const p = (a, r) => `${(r * Math.sin(a)).toFixed(3)} ${(-r * Math.cos(a)).toFixed(3)}`;
  const large = a1 - a0 > Math.PI ? 1 : 0;
  return `M ${p(a0, r1)} A ${r1} ${r1} 0 ${large} 1 ${p(a1, r1)} L ${p(a1, r0)} A ${r0} ${r0} 0 ${large} 0 ${p(a0, r0)} Z`;
}

function drawRing(o) {
  const svg = document.getElementById("ring");
  svg.replaceChildren();
  const q = o.owners.length;
  if (q === 0) return;
  const step = (2 * Math.PI) / q;
  const gap = q <= 256 ? step * 0.08 : 0;
  o.owners.forEach((owner, p) => {
    const cell = el("svg:path", { d: arcPath(p * step + gap / 2, (p + 1) * step - gap / 2, 62, 90), fill: colourOf(owner), "data-partition": p, "data-owner": owner });
    cell.appendChild(el("svg:title", {}, `partition ${p}: ${owner}`));
    svg.appendChild(cell);
  });
  for (const m of o.moves) {
    const mark = el("svg:path", {
      d: arcPath(m.partition * step, (m.partition + 1) * step, 93, 100),
      fill: m.state === "done" ? "none" : colourOf(m.to),
      stroke: colourOf(m.to),
      "stroke-width": 0.6,
      opacity: m.state === "active" ? 1 : 0.55,
      class: "move",
      "data-move-state": m.state,
    });
    mark.appendChild(el("svg:title", {}, `partition ${m.partition}: ${m.from} → ${m.to} (${m.state})`));
    svg.appendChild(mark);
  }
  svg.appendChild(el("svg:text", { x: 0, y: -4, "text-anchor": "middle", fill: "#dfe6ee", "font-size": 14 }, `epoch ${o.epoch}`));
  svg.appendChild(el("svg:text", { x: 0, y: 14, "text-anchor": "middle", fill: "#8b98a8", "font-size": 9 }, `${q} partitions`));
}

function drawLegend(o) {
  const legend = document.getElementById("legend");
  legend.replaceChildren(
    ...o.members.map((m) => {
      const li = el("li", { "data-owner": m.id, "data-partitions": m.partitions });
      li.append(swatch(m.id), el("span", {}, `${m.id} ${m.partitions}`));
      return li;
    }),
  );
}

function drawMembers(o) {
  const rows = o.members.map((m) => {
    const s = m.stats;
    const tr = el("tr", { "data-member": m.id, "data-condition": m.condition, "data-partitions": m.partitions });
    const name = el("td");
    name.append(swatch(m.id), document.createTextNode(` ${m.id}`));
    const p99 = s ? Math.max(s.rates.latencyMs.get.p99 ?? 0, s.rates.latencyMs.put.p99 ?? 0) : undefined;
    tr.append(
      name,
      el("td", { class: `cond-${m.condition}`, title: m.error ?? "" }, m.condition),
      el("td", {}, `${m.partitions} / ${m.idealPartitions}`),
      el("td", {}, s ? num(s.rates.opsPerSecond.total) : "–"),
      el("td", {}, s && p99 ? num(p99, 1) : "–"),
      el("td", {}, s ? bytes(s.disk.dataBytes) : "–"),
      el("td", {}, s ? s.hints.count : "–"),
      el("td", {}, s ? `${num(s.eventLoopLagMs.p99, 1)} ms` : "–"),
    );
    return tr;
  });
  document.querySelector("#members tbody").replaceChildren(...rows);
}

function drawMoves(o) {
  const shown = o.moves.filter((m) => m.state !== "done").slice(0, 40);
  document.querySelector("#moves tbody").replaceChildren(
    ...shown.map((m) => {
      const tr = el("tr", { "data-move": `${m.partition}->${m.to}` });
      tr.append(el("td", {}, m.partition), el("td", {}, m.from), el("td", {}, m.to), el("td", {}, m.kind), el("td", {}, m.state), el("td", {}, bytes(m.bytes)));
      return tr;
    }),
  );
  document.getElementById("moves-none").hidden = o.moves.length > 0;
}

function drawRebalance(o) {
  const section = document.getElementById("rebalance");
  section.hidden = !o.rebalance;
  if (!o.rebalance) return;
  document.getElementById("rebalance-fill").style.width = `${o.rebalance.percent}%`;
  document.getElementById("rebalance-percent").textContent = `${o.rebalance.percent}%`;
  document.getElementById("rebalance-summary").textContent = o.rebalance.summary;
  section.dataset.moved = o.rebalance.partitionsMoved;
  section.dataset.total = o.rebalance.partitionsTotal;
}

/** Lines of `series` (arrays of [t, value]) scaled into the chart's 400 × 100 box. */
function drawChart(id, series) {
  const svg = document.getElementById(id);
  svg.replaceChildren();
  const points = series.flatMap((s) => s.values);
  if (points.length === 0) return;
  const t0 = Math.min(...points.map((p) => p[0]));
  const t1 = Math.max(...points.map((p) => p[0]), t0 + 1);
  const top = Math.max(1, ...points.map((p) => p[1])) * 1.1;
  for (const s of series) {
    const d = s.values.map(([t, v]) => `${((400 * (t - t0)) / (t1 - t0)).toFixed(1)},${(100 - (100 * v) / top).toFixed(1)}`).join(" ");
    svg.appendChild(el("svg:polyline", { points: d, fill: "none", stroke: s.colour, "stroke-width": 1.5, "vector-effect": "non-scaling-stroke" }));
  }
  svg.appendChild(el("svg:text", { x: 4, y: 10, fill: "#8b98a8", "font-size": 9 }, num(top / 1.1, top < 10 ? 1 : 0)));
}

function drawCharts(o) {
  const h = o.history;
  drawChart("rate-chart", [
    { colour: "#4aa3ff", values: h.map((p) => [p.t, p.opsPerSecond.get]) },
    { colour: "#ff9f43", values: h.map((p) => [p.t, p.opsPerSecond.put]) },
    { colour: "#c678dd", values: h.map((p) => [p.t, p.opsPerSecond.delete]) },
  ]);
  drawChart("latency-chart", [
    { colour: "#5fd38d", values: h.filter((p) => p.p50Ms !== undefined).map((p) => [p.t, p.p50Ms]) },
    { colour: "#ff6b6b", values: h.filter((p) => p.p99Ms !== undefined).map((p) => [p.t, p.p99Ms]) },
  ]);
}

function draw(o) {
  for (const m of o.members) colourOf(m.id);
  document.getElementById("member-count").textContent = o.members.length;
  document.getElementById("epoch").textContent = o.epoch;
  document.getElementById("partitions").textContent = o.partitions;
  const ops = o.members.reduce((sum, m) => sum + (m.stats ? m.stats.rates.opsPerSecond.total : 0), 0);
  document.getElementById("ops").textContent = num(ops);
  document.getElementById("served-by").textContent = o.node;
  const unwell = o.members.filter((m) => m.condition !== "up");
  const status = document.getElementById("status");
  status.textContent = unwell.length === 0 ? "all members up" : unwell.map((m) => `${m.id} ${m.condition}`).join(", ");
  status.className = `status${unwell.some((m) => m.condition === "down") ? " bad" : ""}`;
  document.body.dataset.updated = String(o.generatedAt);
  drawRebalance(o);
  drawRing(o);
  drawLegend(o);
  drawMembers(o);
  drawCharts(o);
  drawMoves(o);
}

/**
 * With client tokens on, the console's data needs a token (any scope). The page asks for one when the node answers
 * 401 and keeps it for this tab only (sessionStorage), sending it as a Bearer token like any client.
 */
function tokenHeaders() {
  const token = window.sessionStorage.getItem("dynamo-token");
  return token ? { Authorization: `Bearer ${token}` } : {};
}

function askForToken() {
  const form = document.getElementById("token-form");
  if (!form.hidden) return;
  form.hidden = false;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    window.sessionStorage.setItem("dynamo-token", document.getElementById("token").value.trim());
    form.hidden = true;
  }, { once: true });
}

async function poll() {
  try {
    const res = await fetch("api/overview", { cache: "no-store", headers: tokenHeaders() });
    if (res.status === 401 || res.status === 403) askForToken();
    if (!res.ok) throw new Error(`the node answered ${res.status}`);
    draw(await res.json());
  } catch (err) {
    const status = document.getElementById("status");
    status.textContent = `cannot reach the node: ${err.message}`;
    status.className = "status bad";
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

poll();
