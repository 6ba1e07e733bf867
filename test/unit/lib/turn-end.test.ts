// The end of an event-loop turn in two stages: what makes writes durable, then what sends. A write acknowledged in the
// durable stage must have its acknowledgement sent in the same turn, even when a frame was queued for sending before
// the write arrived.
import assert from "node:assert/strict";
import { atTurnEnd } from "../../../lib/turn-end.js";

const settled = () => new Promise<void>((resolve) => setTimeout(resolve, 20));

describe("the end of an event-loop turn", function () {
  it("runs the durable stage first, and sends what its settled promises queued in the same turn", async function () {
    const order: string[] = [];
    atTurnEnd("send", () => order.push("send queued first"));
    let acknowledge!: () => void;
    void new Promise<void>((resolve) => (acknowledge = resolve))
      .then(() => undefined)
      .then(() => atTurnEnd("send", () => order.push("acknowledgement")));
    atTurnEnd("durable", () => {
      order.push("durable");
      // An immediate queued now runs in the next turn: the acknowledgement must leave before it.
      setImmediate(() => order.push("next turn"));
      acknowledge();
    });
    await settled();
    assert.deepEqual(order, ["durable", "send queued first", "acknowledgement", "next turn"]);
  });

  it("keeps a durable task that arrives after its stage ran for the next turn, and still sends after it", async function () {
    const order: string[] = [];
    atTurnEnd("durable", () => {
      order.push("first durable");
      queueMicrotask(() =>
        atTurnEnd("durable", () => {
          order.push("second durable");
          queueMicrotask(() => atTurnEnd("send", () => order.push("second send")));
        }),
      );
    });
    atTurnEnd("send", () => {
      order.push("first send");
      setImmediate(() => order.push("immediate after first send"));
    });
    await settled();
    assert.deepEqual(order, ["first durable", "first send", "second durable", "second send", "immediate after first send"]);
  });

  it("runs every task of a stage in the order they came, each once", async function () {
    const order: number[] = [];
    for (let i = 0; i < 5; i++) atTurnEnd(i % 2 === 0 ? "send" : "durable", () => order.push(i));
    await settled();
    assert.deepEqual(order, [1, 3, 0, 2, 4]);
  });
});
