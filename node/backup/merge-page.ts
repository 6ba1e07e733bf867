/**
 * The receiving side of a restore: `merge-page` folds a page of records (distinct keys of one partition) into this
 * node's replica through the merge that handoff pages go through, so every version arrives as it was backed up:
 * siblings stay siblings, version vectors and lww timestamps are kept. A page for a partition this node does not
 * replicate under its ring is refused with `not_ready` before anything is stored, so a restore routed by an older
 * ring learns of the change and routes the page again, and nothing lands on a node that would later drop it. A record
 * of a bucket this node does not serve refuses the whole page: a restore must never skip data without saying so.
 */
import { DynamoError } from "../errors/index.js";
import type { PeerHandlers } from "../protocol/index.js";
import type { Reconciliation, VersionedRecord } from "../versioning/types.js";

export interface MergePageDeps {
  /** The node's ring epoch, answered with every page so the sender knows which ring the receiver routed by. */
  epoch: () => number;
  /** Whether this node holds a replica of the partition (a preference-list member or a pending receiver of it). */
  replicates: (partition: number) => boolean;
  reconciliation: (bucket: string) => Reconciliation | undefined;
  mergeMany: (partition: number, entries: { bucket: string; key: Buffer; record: VersionedRecord; mode: Reconciliation }[]) => Promise<number>;
}

export function mergePageHandlers(deps: MergePageDeps): Pick<PeerHandlers, "merge-page"> {
  return {
    "merge-page": async ({ header, body }) => {
      if (!deps.replicates(header.partition)) {
        throw new DynamoError("not_ready", `this node holds no replica of partition ${header.partition} under ring epoch ${deps.epoch()}`);
      }
      const entries = body.map((entry) => {
        const mode = deps.reconciliation(entry.bucket);
        if (mode === undefined) throw new DynamoError("unknown_bucket", `this node serves no bucket '${entry.bucket}'; nothing of the page was stored`);
        // Given its mode in place: a received entry's record is a getter, which a spread would leave out.
        return Object.assign(entry, { mode });
      });
      const changed = await deps.mergeMany(header.partition, entries);
      return { header: { changed, epoch: deps.epoch() } };
    },
  };
}
