import assert from "node:assert/strict";
import { parseCgroupMounts, parseRunName, runName, staleRuns } from "../../k8s/harness/sandbox/cgroups.js";
import { inCidr, NETWORK_PLAN, nodeAddresses } from "../../k8s/harness/sandbox/network-plan.js";

const HYBRID_MOUNTINFO = `24 30 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
31 24 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:29 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
34 31 0:30 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
35 31 0:31 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
36 30 8:1 / /var/lib/with\\040space rw,relatime - ext4 /dev/vda rw`;

describe("test ground: sandbox", () => {
  it("lays out nodes, pods and Services inside 198.19.0.0/16, apart from the network fault tests' 198.18.0.0/16", () => {
    for (const range of [NETWORK_PLAN.nodes, NETWORK_PLAN.pods, NETWORK_PLAN.services]) {
      const [base] = range.split("/");
      assert.ok(inCidr(base ?? "", NETWORK_PLAN.block), `${range} is in ${NETWORK_PLAN.block}`);
      assert.ok(!inCidr(base ?? "", "198.18.0.0/16"), `${range} stays out of the fault tests' block`);
    }
    assert.ok(inCidr(NETWORK_PLAN.kubernetesService, NETWORK_PLAN.services));
    assert.ok(inCidr(NETWORK_PLAN.clusterDns, NETWORK_PLAN.services));
    assert.ok(!inCidr(NETWORK_PLAN.pods.split("/")[0] ?? "", NETWORK_PLAN.services), "pods and Services do not overlap");
  });

  it("gives each node its own address, pod range and link names", () => {
    const [a, b] = [nodeAddresses(0), nodeAddresses(1)];
    assert.deepEqual(a, {
      index: 0,
      name: "node-0",
      ip: "198.19.0.10",
      podCidr: "198.19.64.0/24",
      podGateway: "198.19.64.1",
      bridge: "dk-pods0",
      link: "dk-node0",
      linkPeer: "dk-node0p",
    });
    assert.ok(inCidr(b.ip, NETWORK_PLAN.nodes) && inCidr(b.podGateway, NETWORK_PLAN.pods) && inCidr(b.podGateway, b.podCidr));
    assert.ok(!inCidr(a.podGateway, b.podCidr), "pod ranges of two nodes are disjoint");
    for (const name of [b.bridge, b.link, b.linkPeer]) assert.ok(name.length <= 15, `${name} fits a Linux interface name`);
    assert.throws(() => nodeAddresses(NETWORK_PLAN.nodesMax), /outside/);
    assert.throws(() => nodeAddresses(-1), /outside/);
  });

  it("matches addresses against CIDR blocks at any prefix length", () => {
    assert.ok(inCidr("198.19.64.7", "198.19.64.0/18"));
    assert.ok(inCidr("198.19.127.255", "198.19.64.0/18"));
    assert.ok(!inCidr("198.19.128.0", "198.19.64.0/18"));
    assert.ok(inCidr("10.1.2.3", "0.0.0.0/0"));
    assert.ok(inCidr("198.19.0.10", "198.19.0.10/32") && !inCidr("198.19.0.11", "198.19.0.10/32"));
  });

  it("finds every cgroup hierarchy of a hybrid host, v1 and v2, and nothing else", () => {
    assert.deepEqual(parseCgroupMounts(HYBRID_MOUNTINFO), [
      { path: "/sys/fs/cgroup/cpu", version: 1 },
      { path: "/sys/fs/cgroup/memory", version: 1 },
      { path: "/sys/fs/cgroup/systemd", version: 1 },
      { path: "/sys/fs/cgroup/unified", version: 2 },
    ]);
    assert.deepEqual(parseCgroupMounts("25 1 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate"), [{ path: "/sys/fs/cgroup", version: 2 }]);
  });

  it("names runs by their launcher and its PID namespace, and sweeps only runs of its own namespace whose launcher is dead", () => {
    const host = 4026531836;
    const name = runName(host, 4242, "a1b2c3");
    assert.equal(name, "dynamo-k8s-run-4026531836-4242-a1b2c3");
    assert.deepEqual(parseRunName(name), { pidNamespace: host, pid: 4242 });
    assert.equal(parseRunName("dynamo-k8s-run-x-1-2"), undefined);
    assert.equal(parseRunName("kubepods"), undefined);
    const alive = new Set([1, 4242]);
    const found = [name, runName(host, 17, "ffffff"), "kubepods", `dynamo-k8s-run-${host}-99-zz`, "someone-else-17", runName(4026532000, 17, "abcdef")];
    assert.deepEqual(staleRuns(found, host, (pid) => alive.has(pid)), [`dynamo-k8s-run-${host}-17-ffffff`, `dynamo-k8s-run-${host}-99-zz`]);
  });
});
