/**
 * The metrics the chart's Grafana dashboard and Prometheus alerts name, read from the files the chart ships, and a
 * check that each one is in a /metrics page. Every metric of ours is prefixed `dynamo_`; a histogram is named by
 * its `_bucket`, `_sum` or `_count` series in queries, and by its base name in the `# TYPE` line.
 */
import { readFileSync } from "node:fs";
import { parse } from "yaml";

const CHART_FILES = new URL("../../charts/dynamo-operator/files/", import.meta.url);

export const DASHBOARD_PATH = new URL("grafana-dashboard.json", CHART_FILES);
export const RULES_PATH = new URL("prometheus-rules.yaml", CHART_FILES);

interface Panel {
  targets?: { expr?: string }[];
}

/** Every PromQL expression of the dashboard (panels and template variables) and of the alert rules. */
export function monitoringExpressions(): { source: string; expr: string }[] {
  const dashboard = JSON.parse(readFileSync(DASHBOARD_PATH, "utf8")) as { panels: Panel[]; templating: { list: { name: string; definition?: string }[] } };
  const rules = parse(readFileSync(RULES_PATH, "utf8")) as { groups: { rules: { alert: string; expr: string }[] }[] };
  return [
    ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ source: "dashboard", expr: t.expr ?? "" }))),
    ...dashboard.templating.list.filter((v) => v.definition).map((v) => ({ source: `dashboard variable ${v.name}`, expr: v.definition! })),
    ...rules.groups.flatMap((g) => g.rules.map((r) => ({ source: `alert ${r.alert}`, expr: r.expr }))),
  ];
}

/** The metric names the expressions use, histograms by their base name. */
export function monitoredMetrics(): Map<string, string[]> {
  const names = new Map<string, string[]>();
  for (const { source, expr } of monitoringExpressions()) {
    // Label matchers ({...}) and grouping clauses (by/without (...)) hold label names, some of which start with dynamo_.
    const metricsOnly = expr.replace(/\{[^}]*\}/g, "").replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, "");
    for (const match of metricsOnly.matchAll(/\bdynamo_[a-z0-9_]+\b/g)) {
      const name = match[0].replace(/_(bucket|sum|count)$/, "");
      names.set(name, [...new Set([...(names.get(name) ?? []), source])]);
    }
  }
  return names;
}

/** Metric names a Prometheus text page declares (its `# TYPE` lines). */
export function declaredMetrics(page: string): Set<string> {
  return new Set([...page.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
}

/** Names in `wanted` that none of the pages declares, with where they are used. */
export function missingMetrics(wanted: Map<string, string[]>, pages: string[]): string[] {
  const declared = new Set(pages.flatMap((p) => [...declaredMetrics(p)]));
  return [...wanted].filter(([name]) => !declared.has(name)).map(([name, sources]) => `${name} (used by ${sources.join(", ")})`);
}
