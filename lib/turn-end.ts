/**
 * Work held back until the end of the event loop's current turn, in two stages: first what makes writes durable (the
 * store's write log appends every write of the turn in one system call), then what sends (each peer connection writes
 * every frame of the turn in one buffer). Many callbacks of one turn (each socket's data, each finished LevelDB
 * operation) add to both, and doing each once per turn rather than once per caller is what saves the system calls.
 *
 * The order matters: a replica acknowledges a write once it is in the log, and that acknowledgement must leave in the
 * same turn. So both stages run in the check phase of the turn in which the first task arrived, as two immediates
 * queued together, the durable stage first. Node.js runs the promise reactions after each immediate, so everything a
 * durable task settles (the acknowledgements, the replicas a coordinator now sends to) has run, and written its frames,
 * before the send stage writes them. An immediate queued from within the check phase would wait for the next turn,
 * after another round of polling; this is why the stages are queued as a pair.
 *
 * A durable task added after its stage has run this turn (a write made in reaction to another) waits for the next
 * pair, in the next turn, as does any task added once the send stage has started.
 */
export type TurnStage = "durable" | "send";

let durable: (() => void)[] = [];
let sends: (() => void)[] = [];
/** Durable tasks that arrived after this turn's durable stage ran. */
let laterDurable: (() => void)[] = [];
/** Where this turn is: nothing queued, the pair queued, or the durable stage run and the send stage still to come. */
let state: "idle" | "queued" | "durable-done" = "idle";

export function atTurnEnd(stage: TurnStage, task: () => void): void {
  if (state === "idle") queuePair();
  if (stage === "send") sends.push(task);
  else if (state === "durable-done") laterDurable.push(task);
  else durable.push(task);
}

function queuePair(): void {
  state = "queued";
  setImmediate(runDurable);
  setImmediate(runSends);
}

function runDurable(): void {
  state = "durable-done";
  const tasks = durable;
  durable = [];
  runAll(tasks);
}

function runSends(): void {
  state = "idle";
  const tasks = sends;
  sends = [];
  if (laterDurable.length > 0) {
    durable = laterDurable;
    laterDurable = [];
    queuePair();
  }
  runAll(tasks);
}

/** Runs every task even when one throws; the first error is thrown once they have all run, as an immediate's would be. */
function runAll(tasks: readonly (() => void)[]): void {
  let failed = false;
  let first: unknown;
  for (const task of tasks) {
    try {
      task();
    } catch (err) {
      if (!failed) first = err;
      failed = true;
    }
  }
  if (failed) throw first;
}
