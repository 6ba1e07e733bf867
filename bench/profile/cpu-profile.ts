/**
 * Reading V8 CPU profiles (the `.cpuprofile` files `node --cpu-prof` writes) for the request-path profiler: the
 * samples that fall inside a measured window, the stack of each, and where their time went, by function and by the
 * module that function lives in. Pure functions of the profile, so the SVG and the tables can be tested without a node.
 */

export interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

export interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

/** The JSON of a `.cpuprofile`: a call tree, and which tree node was on the CPU at each sample. */
export interface CpuProfile {
  nodes: ProfileNode[];
  /** Microseconds on the monotonic clock (the clock of `process.hrtime`). */
  startTime: number;
  endTime: number;
  samples: number[];
  /** Microseconds between consecutive samples; the first is relative to `startTime`. */
  timeDeltas: number[];
}

/** Sampled stacks, root first, with the microseconds each was seen on the CPU. */
export interface StackSamples {
  /** Folded stacks: frame names joined by ';', root first, to microseconds. */
  stacks: Map<string, number>;
  /** Every sampled microsecond in the window, idle included. */
  totalUs: number;
  /** Microseconds the thread was idle (waiting in the event loop). */
  idleUs: number;
  /** Self time (the frame on top of the stack) by function name and by module (`frameModule`). */
  selfByFunction: Map<string, number>;
  selfByModule: Map<string, number>;
}

import { frameModule, frameName } from "./frame-names.js";

const IDLE = "(idle)";

/** The samples of `profile` taken within [fromUs, toUs] (monotonic microseconds), as folded stacks. */
export function samplesBetween(profile: CpuProfile, fromUs = -Infinity, toUs = Infinity): StackSamples {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const folded = new Map<number, string>();
  const foldedOf = (id: number): string => {
    const known = folded.get(id);
    if (known !== undefined) return known;
    const names: string[] = [];
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const node = byId.get(at)!;
      // The root frame is V8's "(root)": every stack has it, so it says nothing.
      if (parent.has(at)) names.push(frameName(node.callFrame));
    }
    const text = names.reverse().join(";");
    folded.set(id, text);
    return text;
  };
  const stacks = new Map<string, number>();
  const selfByFunction = new Map<string, number>();
  const selfByModule = new Map<string, number>();
  let totalUs = 0;
  let idleUs = 0;
  let at = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i] ?? 0;
    if (at < fromUs || at > toUs) continue;
    // A sample stands for the time until the next one.
    const weight = Math.max(0, profile.timeDeltas[i + 1] ?? 0);
    const id = profile.samples[i]!;
    totalUs += weight;
    const node = byId.get(id);
    if (node?.callFrame.functionName === IDLE) {
      idleUs += weight;
      continue;
    }
    const stack = foldedOf(id);
    add(stacks, stack, weight);
    if (node) {
      add(selfByFunction, frameName(node.callFrame), weight);
      add(selfByModule, frameModule(node.callFrame), weight);
    }
  }
  return { stacks, totalUs, idleUs, selfByFunction, selfByModule };
}

function add(map: Map<string, number>, key: string, us: number): void {
  map.set(key, (map.get(key) ?? 0) + us);
}

/** Merges several sample sets (the three nodes of a cluster) into one. */
export function mergeSamples(sets: readonly StackSamples[]): StackSamples {
  const merged: StackSamples = { stacks: new Map(), totalUs: 0, idleUs: 0, selfByFunction: new Map(), selfByModule: new Map() };
  for (const set of sets) {
    merged.totalUs += set.totalUs;
    merged.idleUs += set.idleUs;
    for (const [stack, us] of set.stacks) add(merged.stacks, stack, us);
    for (const [name, us] of set.selfByFunction) add(merged.selfByFunction, name, us);
    for (const [name, us] of set.selfByModule) add(merged.selfByModule, name, us);
  }
  return merged;
}
