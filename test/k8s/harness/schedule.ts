/**
 * How the Kubernetes suite orders its files (harness/suite.ts runs them): pure, so a unit test checks it
 * (test/unit/k8s/schedule.test.ts). Files that install something cluster-wide run first, each in a phase of its own,
 * with only the files that never create a DynamoCluster beside the first of them; then every other file. Within a phase
 * mocha hands the files to its workers in the order given, so they go longest first.
 */

export const DEFAULT_SUITE = {
  /** Parallel mocha workers; DYNAMO_K8S_JOBS overrides (1 runs the files one after another, 2 is gentler on a busy machine). */
  jobs: 3,
  /** Test files that must have the cluster to themselves: what they install acts on every namespace. */
  exclusive: /\/chart\//,
  /**
   * Test files that may run beside an exclusive one: they never create a DynamoCluster, so an operator watching every
   * namespace has nothing of theirs to act on, and they install nothing cluster-wide themselves.
   */
  besideExclusive: /\/(cluster|image)\//,
  /**
   * Each file's wall time in seconds (hooks included; the `[k8s file]` lines of a run), rounded, from a run at load
   * 3 to 8 (2026-11-30): only the order matters, so the numbers need updating only when a file's rank changes a lot.
   */
  seconds: {
    "test/k8s/operator/scenarios.test.ts": 190,
    "test/k8s/operator/security.test.ts": 160,
    "test/k8s/operator/faults.test.ts": 160,
    "test/k8s/autoscaling/hpa.test.ts": 150,
    "test/k8s/plugin/kubectl-plugin.test.ts": 125,
    "test/k8s/operator/rolling-update.test.ts": 110,
    "test/k8s/autoscaling/custom-metrics.test.ts": 100,
    "test/k8s/operator/process.test.ts": 80,
    "test/k8s/operator/lifecycle.test.ts": 60,
    "test/k8s/backup/backup-restore.test.ts": 55,
    "test/k8s/chart/chart.test.ts": 55,
    "test/k8s/cluster/node.test.ts": 45,
    "test/k8s/operator/image.test.ts": 40,
    "test/k8s/cluster/stateful-set.test.ts": 25,
    "test/k8s/image/image.test.ts": 12,
    "test/k8s/cluster/sandbox.test.ts": 10,
    "test/k8s/cluster/rbac.test.ts": 8,
    "test/k8s/operator/crd.test.ts": 3,
    "test/k8s/cluster/garbage-collection.test.ts": 3,
    "test/k8s/cluster/volumes.test.ts": 2,
    "test/k8s/cluster/control-plane.test.ts": 1,
  } as Record<string, number>,
  /** A file not in `seconds` yet (a new one) is assumed long, so it never ends up last on a busy worker. */
  unknownSeconds: 120,
};

/** `files` longest first by `seconds`, ties in name order. */
export function longestFirst(files: readonly string[], seconds: Record<string, number> = DEFAULT_SUITE.seconds): string[] {
  const weight = (f: string) => seconds[f] ?? DEFAULT_SUITE.unknownSeconds;
  return [...files].sort((a, b) => weight(b) - weight(a) || a.localeCompare(b));
}

/**
 * The phases of a run, each a list of files for one mocha run: every exclusive file in a phase of its own, the files
 * that may run beside them joining the first, then every other file; each phase longest first.
 */
export function phases(files: readonly string[]): string[][] {
  const exclusive = files.filter((f) => DEFAULT_SUITE.exclusive.test(f));
  const beside = exclusive.length > 0 ? files.filter((f) => !DEFAULT_SUITE.exclusive.test(f) && DEFAULT_SUITE.besideExclusive.test(f)) : [];
  const rest = files.filter((f) => !exclusive.includes(f) && !beside.includes(f));
  const result = exclusive.map((f, i) => longestFirst(i === 0 ? [f, ...beside] : [f]));
  if (rest.length > 0) result.push(longestFirst(rest));
  return result;
}
