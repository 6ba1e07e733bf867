/**
 * The chart's dashboard and alerts: off by default, rendered from the files they ship in, rules valid for Prometheus
 * (promtool check rules) and behaving as meant (promtool test rules), a runbook section per alert, and a dashboard
 * whose panels all query something. That every metric they name exists in real /metrics output is checked against a
 * running node and operator in test/k8s/kubectl-plugin.test.ts.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse, stringify } from "yaml";
import { DASHBOARD_PATH, RULES_PATH, monitoredMetrics } from "../../monitoring/monitored-metrics.js";
import { findObject, render } from "./helm.js";
import { promtool } from "./promtool.js";

const ON = { grafanaDashboard: { enabled: true }, prometheusRule: { enabled: true, labels: { release: "prom" } }, nodesPodMonitor: { enabled: true } };
const RUNBOOKS = readFileSync(new URL("../../../docs/runbooks.md", import.meta.url), "utf8");
const ALERT_TESTS = fileURLToPath(new URL("../../monitoring/alerts.test.yaml", import.meta.url));

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

const rulesFile = () => parse(readFileSync(RULES_PATH, "utf8")) as { groups: { name: string; rules: Rule[] }[] };

describe("chart: dashboards and alerts", function () {
  this.timeout(60_000);

  it("renders neither the dashboard, the rules nor the nodes' PodMonitor by default", () => {
    const kinds = render().map((o) => `${o.kind}/${o.metadata.name}`);
    assert.ok(!kinds.some((k) => k.startsWith("PrometheusRule/") || k.endsWith("-dashboard") || k.endsWith("-nodes")), kinds.join(", "));
  });

  it("ships the dashboard in a ConfigMap with the grafana_dashboard label, exactly as in files/", () => {
    const cm = findObject(render(ON), "ConfigMap", "dynamo-operator-dashboard");
    assert.equal(cm.metadata.labels?.grafana_dashboard, "1");
    assert.deepEqual(JSON.parse(cm.data["dynamo.json"]), JSON.parse(readFileSync(DASHBOARD_PATH, "utf8")));
  });

  it("ships the alerts in a PrometheusRule, exactly as in files/, with the labels asked for", () => {
    const rule = findObject(render(ON), "PrometheusRule");
    assert.equal(rule.metadata.labels?.release, "prom");
    assert.deepEqual(rule.spec, rulesFile());
  });

  it("scrapes the storage nodes' client port and labels their series with the cluster", () => {
    const pm = findObject(render(ON), "PodMonitor", "dynamo-operator-nodes");
    assert.equal(pm.spec.selector.matchLabels["app.kubernetes.io/name"], "dynamo");
    assert.equal(pm.spec.podMetricsEndpoints[0].port, "client");
    const endpoint = pm.spec.podMetricsEndpoints[0];
    assert.ok(endpoint.relabelings.some((r: object) => JSON.stringify(r) === JSON.stringify({ sourceLabels: ["__meta_kubernetes_pod_label_app_kubernetes_io_instance"], targetLabel: "dynamo_cluster" })));
    // https or http as each cluster's pods say (client TLS is on by default); each cluster has a CA of its own.
    assert.ok(endpoint.relabelings.some((r: object) => JSON.stringify(r) === JSON.stringify({ sourceLabels: ["__meta_kubernetes_pod_label_dynamo_ringkv_dev_client_scheme"], targetLabel: "__scheme__" })));
    assert.deepEqual(endpoint.tlsConfig, { insecureSkipVerify: true });
  });

  it("has alerts Prometheus accepts: promtool check rules on the rendered PrometheusRule", () => {
    const dir = mkdtempSync(join(tmpdir(), "tools-rules-"));
    try {
      const file = join(dir, "rules.yaml");
      writeFileSync(file, stringify(findObject(render(ON), "PrometheusRule").spec));
      const r = promtool(["check", "rules", file]);
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /SUCCESS: \d+ rules found/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("fires each alert on the series it is meant for, and not on the healthy case beside it (promtool test rules)", () => {
    const r = promtool(["test", "rules", ALERT_TESTS]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });

  it("lists the alerts the issue asks for, each with a severity, a summary and a runbook section in docs/runbooks.md", () => {
    const alerts = rulesFile().groups.flatMap((g) => g.rules);
    const sections = new Set([...RUNBOOKS.matchAll(/^## (\w+)$/gm)].map((m) => m[1]!.toLowerCase()));
    for (const wanted of ["DynamoQuorumFailures", "DynamoMemberDown", "DynamoHintsGrowing", "DynamoRebalanceStalled", "DynamoDiskNearlyFull", "DynamoTooManySiblings"]) {
      assert.ok(alerts.some((a) => a.alert === wanted), `alert ${wanted}`);
    }
    for (const a of alerts) {
      assert.match(a.labels?.severity ?? "", /^(warning|critical)$/, `${a.alert} severity`);
      assert.ok(a.annotations?.summary, `${a.alert} summary`);
      const anchor = a.annotations?.runbook?.split("#")[1] ?? "";
      assert.ok(sections.has(anchor), `docs/runbooks.md has a section '## ${a.alert}' (anchor ${anchor})`);
    }
  });

  it("has a dashboard whose every panel queries something, with unique ids, over the datasource variable", () => {
    const dashboard = JSON.parse(readFileSync(DASHBOARD_PATH, "utf8")) as { uid: string; panels: { id: number; type: string; title: string; datasource?: { uid: string }; targets?: { expr: string }[] }[] };
    assert.equal(dashboard.uid, "dynamo-overview");
    const ids = dashboard.panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length);
    for (const p of dashboard.panels.filter((x) => x.type !== "row")) {
      assert.equal(p.datasource?.uid, "${datasource}", p.title);
      assert.ok((p.targets ?? []).length > 0 && p.targets!.every((t) => t.expr.includes("dynamo_")), `${p.title} queries a dynamo metric`);
    }
    const names = [...monitoredMetrics().keys()];
    for (const wanted of ["dynamo_requests_total", "dynamo_request_duration_seconds", "dynamo_siblings", "dynamo_hints", "dynamo_handoff_bytes_total", "dynamo_anti_entropy_keys_repaired_total", "dynamo_storage_bytes", "dynamo_event_loop_lag_seconds", "dynamo_operator_reconciles_total", "dynamo_operator_reconcile_errors_total", "dynamo_operator_queue_depth", "dynamo_cluster_rebalance_partitions_moved"]) {
      assert.ok(names.includes(wanted), `the dashboard or the alerts use ${wanted}`);
    }
  });
});
