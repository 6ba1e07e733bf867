/** The fuzz targets by name; a new target is one module exporting a `FuzzTarget` and one line here. */
import { clientTarget } from "./client-target.js";
import type { FuzzTarget } from "./harness.js";
import { peerTarget } from "./peer-target.js";

export const TARGETS: Record<string, FuzzTarget<never>> = {
  client: clientTarget as FuzzTarget<never>,
  peer: peerTarget as FuzzTarget<never>,
};
