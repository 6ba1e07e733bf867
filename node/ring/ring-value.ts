/**
 * Rings as values that travel: creating the first ring of a cluster, and validating a ring received from the wire
 * (admin API, gossip, disk) before anything trusts it. Validation checks the invariants every other module relies
 * on: Q a power of two, one owner per partition, every owner and transfer endpoint a member.
 */
import { z } from "zod";
import { DynamoError } from "../errors/index.js";
import { initialClaim } from "./claim.js";
import { isPowerOfTwo, PARTITIONS_MAX } from "./hash.js";
import type { Member, Ring } from "./types.js";
import type { ZoneMap } from "./zones.js";

const memberId = z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9._-]{0,62}$/, "member ids are 1-63 letters, digits, '.', '_' or '-'");

/** Zone names as Kubernetes labels allow them (`topology.kubernetes.io/zone` values), e.g. `eu-west-1a`. */
export const zoneName = z
  .string()
  .regex(/^[a-zA-Z0-9]([a-zA-Z0-9._-]{0,61}[a-zA-Z0-9])?$/, "zone names are 1-63 letters, digits, '.', '_' or '-', starting and ending with a letter or digit");

const memberSchema = z
  .object({
    id: memberId,
    peerUrl: z.string().url(),
    clientUrl: z.string().url(),
    incarnation: z.string().min(1).max(64),
    state: z.enum(["joining", "valid", "leaving"]),
    zone: zoneName.optional(),
  })
  .strict();

const transferSchema = z
  .object({
    partition: z.number().int().min(0),
    from: memberId,
    to: memberId,
    kind: z.enum(["ownership", "rebuild"]),
  })
  .strict();

export const ringSchema = z
  .object({
    epoch: z.number().int().min(1),
    partitions: z.number().int().min(1).max(PARTITIONS_MAX).refine(isPowerOfTwo, "partitions must be a power of two"),
    owners: z.array(memberId),
    pending: z.array(transferSchema),
    nextOwners: z.array(memberId).optional(),
    transferLimit: z.number().int().min(1).max(1024).optional(),
    members: z.record(z.string(), memberSchema),
    term: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
  })
  .strict()
  .superRefine((ring, ctx) => {
    if (ring.owners.length !== ring.partitions) {
      ctx.addIssue({ code: "custom", path: ["owners"], message: `owners has ${ring.owners.length} entries for ${ring.partitions} partitions` });
    }
    if (ring.nextOwners && ring.nextOwners.length !== ring.partitions) {
      ctx.addIssue({ code: "custom", path: ["nextOwners"], message: `nextOwners has ${ring.nextOwners.length} entries for ${ring.partitions} partitions` });
    }
    for (const [key, member] of Object.entries(ring.members)) {
      if (key !== member.id) ctx.addIssue({ code: "custom", path: ["members", key], message: `member listed under '${key}' has id '${member.id}'` });
    }
    const unknown = new Set([...ring.owners, ...(ring.nextOwners ?? [])].filter((id) => !ring.members[id]));
    for (const t of ring.pending) {
      if (t.partition >= ring.partitions) ctx.addIssue({ code: "custom", path: ["pending"], message: `transfer of partition ${t.partition} is outside the ring` });
      if (!ring.members[t.to]) unknown.add(t.to);
    }
    if (unknown.size > 0) ctx.addIssue({ code: "custom", path: ["members"], message: `not members: ${[...unknown].sort().join(", ")}` });
  });

/** The zone of each member that has one, for the claim planner. */
export function zonesOf(members: Iterable<Member>): ZoneMap {
  const zones: Record<string, string> = {};
  for (const member of members) if (member.zone) zones[member.id] = member.zone;
  return zones;
}

/** Validates a ring from outside; a bad one is a 400-class error naming every problem. */
export function parseRing(input: unknown): Ring {
  const result = ringSchema.safeParse(input);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join(".") || "(ring)"}: ${i.message}`).join("; ");
    throw new DynamoError("invalid_request", `invalid ring: ${problems}`);
  }
  return result.data as Ring;
}

/**
 * The first ring of a cluster: epoch 1, a balanced claim over the members, nothing pending. Throws `invalid_request`
 * for a partition count that is not a power of two up to PARTITIONS_MAX, no members, or a repeated member id, so a
 * bad configuration fails here rather than as a ring every node later rejects.
 */
export function createRing(options: { partitions: number; members: Member[]; targetN: number }): Ring {
  if (!isPowerOfTwo(options.partitions) || options.partitions > PARTITIONS_MAX) {
    throw new DynamoError("invalid_request", `partitions must be a power of two between 1 and ${PARTITIONS_MAX}, got ${options.partitions}`);
  }
  if (!Number.isInteger(options.targetN) || options.targetN < 1) {
    throw new DynamoError("invalid_request", `targetN must be a positive integer, got ${options.targetN}`);
  }
  if (options.members.length === 0) throw new DynamoError("invalid_request", "a ring needs at least one member");
  const repeated = options.members.map((m) => m.id).find((id, i, all) => all.indexOf(id) !== i);
  if (repeated !== undefined) throw new DynamoError("invalid_request", `member id '${repeated}' appears more than once`);
  const owners = initialClaim(options.partitions, options.members.map((m) => m.id), options.targetN, zonesOf(options.members));
  return {
    epoch: 1,
    partitions: options.partitions,
    owners,
    pending: [],
    members: Object.fromEntries(options.members.map((m) => [m.id, { ...m, state: "valid" as const }])),
  };
}

/**
 * The newest of the rings the nodes hold, the one every party builds on and reports: the highest term first (rings of
 * a driver that has since been fenced off do not count), then the highest epoch. Undefined when none holds a ring.
 */
export function newestRing(rings: readonly (Ring | undefined)[]): Ring | undefined {
  return rings.reduce<Ring | undefined>((best, r) => {
    if (!r) return best;
    if (!best) return r;
    const [rt, bt] = [r.term ?? 0, best.term ?? 0];
    return rt > bt || (rt === bt && r.epoch > best.epoch) ? r : best;
  }, undefined);
}
