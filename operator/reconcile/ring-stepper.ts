/**
 * The one call through which the operator changes the ring. The RingDriver (driver/) implements it; the reconciler
 * depends only on this shape so its decisions can be tested with a scripted stepper.
 */
import type { Ring } from "../../node/ring/index.js";

export interface MemberAddress {
  id: string;
  peerUrl: string;
  clientUrl: string;
}

export interface StepResult {
  /** The newest ring after this step. */
  ring: Ring | undefined;
  /** The ring matches the desired members and no transfer is pending. */
  done: boolean;
  /** What this step changed, for Events; undefined when nothing. */
  action: string | undefined;
  /** When to step again if not done. */
  retryAfterMs: number;
  /** Members that hold no partitions any more and may be stopped. */
  removable: string[];
  transfers: { pending: number; active: number };
}

export interface RingStepper {
  /** One idempotent step towards `desired` (member ids), given the addresses of the nodes that are up. */
  step(nodes: MemberAddress[], desired: string[]): Promise<StepResult>;
}
