/**
 * The zone of each Kubernetes Node the storage pods run on: its `topology.kubernetes.io/zone` label. The operator
 * hands it to the RingDriver with each member's address, and the ring records it, so the claim planner spreads every
 * key's replicas over zones.
 *
 * A pod cannot read its Node's labels itself (the downward API does not expose them, and a storage pod has no API
 * access at all), so the operator looks them up: one `get` per Node, cached for NODE_ZONE_TTL_MS, which is all the
 * RBAC it needs (`get` on `nodes`, a ClusterRole of its own since Nodes are cluster-scoped). Without that permission
 * (403), or for a Node without the label, the zone is unknown: the ring then keeps whatever zones nodes report of
 * themselves (`--zone`), and a cluster without any plans as one zone.
 */
import type { V1Node } from "@kubernetes/client-node";
import { zoneName } from "../../node/ring/index.js";
import { KubeApiError, objectPath, type KubeApi } from "../kube/api-client.js";
import { ZONE_LABEL } from "../resources/index.js";

/** How long a Node's zone is trusted before it is read again. A Node's zone label does not change in practice. */
export const NODE_ZONE_TTL_MS = 10 * 60_000;

/** The zone a Node's labels name, or undefined when it has none or the label is not a valid zone name. */
export function zoneOfNode(node: Pick<V1Node, "metadata">): string | undefined {
  const zone = node.metadata?.labels?.[ZONE_LABEL];
  return zone && zoneName.safeParse(zone).success ? zone : undefined;
}

export class NodeZones {
  private readonly cache = new Map<string, { zone: string | undefined; atMs: number }>();
  private forbiddenLogged = false;

  constructor(
    private readonly api: Pick<KubeApi, "find">,
    private readonly now: () => number,
    private readonly log: (message: string) => void,
  ) {}

  /** The zone of each named Node (unknown ones are left out); lookups that fail leave the zone unknown this time. */
  async zonesOf(nodeNames: Iterable<string>): Promise<Map<string, string>> {
    const zones = new Map<string, string>();
    await Promise.all(
      [...new Set(nodeNames)].map(async (name) => {
        const zone = await this.zoneOf(name);
        if (zone) zones.set(name, zone);
      }),
    );
    return zones;
  }

  private async zoneOf(name: string): Promise<string | undefined> {
    const cached = this.cache.get(name);
    if (cached && this.now() - cached.atMs < NODE_ZONE_TTL_MS) return cached.zone;
    try {
      const node = await this.api.find<V1Node>(objectPath("v1", "nodes", undefined, name));
      const zone = node ? zoneOfNode(node) : undefined;
      this.cache.set(name, { zone, atMs: this.now() });
      return zone;
    } catch (err) {
      if (err instanceof KubeApiError && err.statusCode === 403) {
        if (!this.forbiddenLogged) this.log(`cannot read Nodes (${err.message}): members' zones come only from the nodes' --zone; grant 'get' on nodes for zone-aware placement`);
        this.forbiddenLogged = true;
        this.cache.set(name, { zone: undefined, atMs: this.now() });
        return undefined;
      }
      // Anything else (a timeout, the API server restarting) is asked again on the next pass.
      return cached?.zone;
    }
  }
}
