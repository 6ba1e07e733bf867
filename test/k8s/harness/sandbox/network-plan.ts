/**
 * The addresses of the Kubernetes test ground. Everything runs inside a network namespace of its own, so nothing here
 * is reachable from the machine's own network, but the addresses still come from 198.18.0.0/15, the block reserved for
 * benchmarking networks, never from private or public ranges: a rule that misses would otherwise send packets to a
 * real network. The test ground takes 198.19.0.0/16; the network fault tests (test/chaos) take 198.18.0.0/16, so the
 * two never overlap even if they ever shared a namespace.
 *
 *   198.19.0.0/24     nodes: node i is 198.19.0.(10 + i), on a veth pair inside the namespace
 *   198.19.64.0/18    pods: node i's pods get 198.19.(64 + i).0/24, on its bridge, gateway .1
 *   198.19.128.0/20   Services (the API server's --service-cluster-ip-range): .1 is `kubernetes`, .10 is cluster DNS
 */
export const NETWORK_PLAN = {
  block: "198.19.0.0/16",
  nodes: "198.19.0.0/24",
  pods: "198.19.64.0/18",
  services: "198.19.128.0/20",
  kubernetesService: "198.19.128.1",
  clusterDns: "198.19.128.10",
  clusterDomain: "cluster.local",
  /** Pods per node at most: a /24 per node, less network, gateway and broadcast addresses. */
  nodesMax: 64,
};

export interface NodeAddresses {
  index: number;
  name: string;
  ip: string;
  /** The node's pod range and its bridge's address (the pods' gateway). */
  podCidr: string;
  podGateway: string;
  bridge: string;
  /** Both ends of the veth pair the node's address lives on (there is no dummy link driver on every kernel). */
  link: string;
  linkPeer: string;
}

/** Node `index`'s addresses and the names of its links. */
export function nodeAddresses(index: number): NodeAddresses {
  if (!Number.isInteger(index) || index < 0 || index >= NETWORK_PLAN.nodesMax) {
    throw new Error(`node index ${index} is outside 0..${NETWORK_PLAN.nodesMax - 1}`);
  }
  return {
    index,
    name: `node-${index}`,
    ip: `198.19.0.${10 + index}`,
    podCidr: `198.19.${64 + index}.0/24`,
    podGateway: `198.19.${64 + index}.1`,
    bridge: `dk-pods${index}`,
    link: `dk-node${index}`,
    linkPeer: `dk-node${index}p`,
  };
}

/** Whether an IPv4 address lies in a CIDR block. */
export function inCidr(address: string, cidr: string): boolean {
  const [base, bits] = cidr.split("/");
  const toInt = (a: string) => a.split(".").reduce((n, octet) => (n << 8) + Number(octet), 0) >>> 0;
  const prefix = Number(bits);
  const mask = prefix === 0 ? 0 : (~0 << (32 - prefix)) >>> 0;
  return ((toInt(address) & mask) >>> 0) === ((toInt(base ?? "") & mask) >>> 0);
}
