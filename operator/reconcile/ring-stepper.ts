/**
 * The one call through which the operator changes the ring. The RingDriver (driver/) implements it; the reconciler
 * depends only on this shape so its decisions can be tested with a scripted stepper.
 */

import type { MemberAddress, StepResult } from "../../driver/index.js";

export type { MemberAddress, StepResult };

export interface RingStepper {
  /** One idempotent step towards `desired` (member ids), given the addresses of the nodes that are up. */
  step(nodes: MemberAddress[], desired: string[]): Promise<StepResult>;
}
