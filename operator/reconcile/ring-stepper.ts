/**
 * The calls through which the operator reads the nodes and changes the ring. The RingDriver (driver/) implements
 * them; the controller depends only on this shape so a pass can be tested with a scripted stepper. A pass observes
 * once (`observe`), builds its status and decisions from that observation, and hands the same observation to
 * `decide` for its one ring step, so each node is asked once per pass.
 */

import type { MemberAddress, NodeAnswer, RingObservation, StepResult } from "../../driver/index.js";

export type { MemberAddress, NodeAnswer, RingObservation, StepResult };

export interface RingStepper {
  /** Asks each node who it is and which ring it holds. */
  observe(nodes: readonly MemberAddress[]): Promise<RingObservation>;
  /** One idempotent step towards `desired` (member ids), from an observation of this pass. */
  decide(observation: RingObservation, desired: string[]): Promise<StepResult>;
}
