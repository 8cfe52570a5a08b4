// The other process of the cross-process latency scenario: adds jobs to the queue a driver in
// the parent shares, one add() per job at a steady rate, each payload stamped with Date.now()
// (`wall`) at its add() call. argv[2] (JSON): { contender, shared, ctx, rate, seconds }. Sends
// "ready" once connected, starts on "go", sends "done" with what it added.
import { setTimeout as sleep } from "node:timers/promises";
import { findVariant } from "./contenders/index.mjs";
import { makePayload } from "./work.mjs";

/** @typedef {{ type: "ready" } | { type: "done", added: number, failed: number, producedRate: number } | { type: "error", message: string }} SubmitterMessage */

const { contender, shared, ctx, rate, seconds } =
  /** @type {{ contender: string, shared: unknown, ctx: import("./contenders/common.mjs").Ctx, rate: number, seconds: number }} */ (
    JSON.parse(process.argv[2] ?? "{}")
  );
/** @param {SubmitterMessage} m */
const send = (m) => /** @type {Promise<void>} */ (new Promise((resolve) => (process.send ? process.send(m, () => resolve()) : resolve())));

try {
  const variant = findVariant(contender);
  if (!variant.submitter) throw new Error(`${contender} cannot be fed from another process`);
  const submitter = variant.submitter(shared, { ...ctx, note() {} });
  await submitter.open();
  await new Promise((resolve) => {
    process.once("message", resolve);
    void send({ type: "ready" });
  });
  const total = Math.round(rate * seconds);
  let failed = 0;
  const begin = performance.now();
  const adds = [];
  for (let i = 0; i < total; i++) {
    const due = begin + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    adds.push(submitter.add([{ payload: makePayload(i, { wall: Date.now() }) }]).catch(() => failed++));
  }
  await Promise.all(adds);
  const producedRate = (total / (performance.now() - begin)) * 1000;
  await submitter.close();
  await send({ type: "done", added: total, failed, producedRate });
} catch (error) {
  await send({ type: "error", message: String(error instanceof Error ? error.message : error) });
}
process.exit(0);
