// The demo's handlers module: loaded in-process (async), in worker threads and in child processes,
// so it must not depend on anything but its imports. Each handler is a @pyrexis/pipeline pipeline.
import { setTimeout as sleep } from "node:timers/promises";
import { defineHandlers, type HandlerContext } from "@pyrexis/executors";
import { isNonRetryable, NonRetryableError } from "@pyrexis/models";
import { isPipelineStageError, map, runPipeline, stage, type AnyStage, type MetricsSink } from "@pyrexis/pipeline";
import { MODEL_API_LIMIT, type DocumentPayload } from "./corpus.js";
import { chance, fnv1a } from "./random.js";

/** The output of every demo handler: its result plus each stage's time, for the summary. */
export interface DemoOutput {
  readonly docId: string;
  readonly result: Record<string, string | number | boolean | number[]>;
  /** Milliseconds per stage in this attempt (`{ chunk: 0.4, model: 61.2, … }`). */
  readonly stageMs: Record<string, number>;
}

/** Probability that one attempt's model call fails transiently (a 503 from the "API"). */
export const TRANSIENT_FAILURE_RATE = 0.1;
const EMBED_DIM = 32;

async function runStages(stages: readonly AnyStage[], payload: DocumentPayload, ctx: HandlerContext): Promise<DemoOutput> {
  const stageMs: Record<string, number> = {};
  // Stage timings travel back in the output: a thread or process worker cannot share a registry.
  const metrics: MetricsSink = { observe: (_name, ms, labels) => void (stageMs[labels?.stage ?? "?"] = ms) };
  let output: unknown;
  try {
    for await (const r of runPipeline(stages, payload, {
      metrics,
      signal: ctx.signal,
      onProgress: (p) => ctx.progress({ stage: p.stage, itemsOut: p.itemsOut, done: p.done }),
      progressIntervalMs: 250,
      jobId: ctx.jobId,
      attempt: ctx.attempt,
    })) {
      output = r.output;
    }
  } catch (e) {
    // PipelineStageError wraps the stage's error; unwrap a NonRetryableError so the engine sees
    // it (isNonRetryable does not look at `cause`) and does not retry an empty document.
    if (isPipelineStageError(e) && isNonRetryable(e.cause)) throw e.cause;
    throw e;
  }
  return { docId: payload.docId, result: output as DemoOutput["result"], stageMs };
}

/** Splits a document into chunks of about `words` words; an empty document cannot be processed. */
function chunker(words: number) {
  return stage("chunk", (doc: DocumentPayload): string[] => {
    const tokens = doc.text.split(/\s+/).filter((t) => t.length > 0);
    if (tokens.length === 0) throw new NonRetryableError(`${doc.docId} is empty: nothing to process`);
    const chunks: string[] = [];
    for (let i = 0; i < tokens.length; i += words) chunks.push(tokens.slice(i, i + words).join(" "));
    return chunks;
  });
}

const tokenize = map(
  (chunk: string) =>
    chunk
      .toLowerCase()
      .replace(/[^a-z ]/g, "")
      .split(" "),
  { name: "tokenize" },
);

/** CPU-heavy "embedding": hashed features mixed over many rounds, then L2-normalized. */
function embedTokens(tokens: readonly string[]): number[] {
  const v = new Float64Array(EMBED_DIM);
  for (let round = 0; round < 600; round++) {
    for (const t of tokens) {
      const h = fnv1a(t, round * 2654435761);
      v[h % EMBED_DIM]! += ((h >>> 8) & 0xff) / 255 - 0.5;
      v[(h >>> 16) % EMBED_DIM]! += Math.sin(h) * 0.01;
    }
  }
  let norm = 0;
  for (const x of v) norm += x * x;
  norm = Math.sqrt(norm) || 1;
  return Array.from(v, (x) => Math.round((x / norm) * 1e4) / 1e4);
}

export default defineHandlers({
  /**
   * async mode: chunk → tokenize → call the model API (simulated: 20–80 ms latency, and a
   * transient 503 on ~10 % of attempts, which the engine retries with backoff) → summarize. Each
   * job is admitted on the model API's token budget with an estimate and charges the tokens it used.
   */
  analyze: async (payload: DocumentPayload, ctx) => {
    const failing = chance(payload.seed, payload.docId, ctx.attempt, "503") < TRANSIENT_FAILURE_RATE;
    const model = map(
      async (tokens: string[], i: number, signal: AbortSignal) => {
        const latency = 20 + Math.floor(chance(payload.seed, payload.docId, ctx.attempt, i) * 60);
        await sleep(latency, undefined, { signal });
        if (failing && i === 0) throw new Error(`model API returned 503 for ${payload.docId} (transient)`);
        return { tokens: tokens.length, label: tokens.length % 3 === 0 ? "technical" : "general" };
      },
      { concurrency: 4, name: "model" },
    );
    const summarize = stage("summarize", async (calls: AsyncIterable<{ tokens: number; label: string }>) => {
      let tokens = 0;
      let technical = 0;
      let chunks = 0;
      for await (const c of calls) {
        chunks++;
        tokens += c.tokens;
        if (c.label === "technical") technical++;
      }
      return { chunks, tokens, label: technical * 2 > chunks ? "technical" : "general" };
    });
    const output = await runStages([chunker(48), tokenize, model, summarize], payload, ctx);
    // What the calls really used: the engine credits or charges the difference to the budget.
    ctx.charge(Math.max(0, Number(output.result["tokens"] ?? 0)), MODEL_API_LIMIT);
    return output;
  },

  /** thread mode: chunk → tokenize → embed each chunk (CPU-bound) → mean-pool into one vector. */
  embed: (payload: DocumentPayload, ctx) => {
    const embed = map((tokens: string[]) => embedTokens(tokens), { name: "embed" });
    const pool = stage("pool", async (vectors: AsyncIterable<number[]>) => {
      const sum = new Array<number>(EMBED_DIM).fill(0);
      let n = 0;
      for await (const v of vectors) {
        n++;
        for (let i = 0; i < EMBED_DIM; i++) sum[i]! += v[i]!;
      }
      return { chunks: n, vector: sum.slice(0, 8).map((x) => Math.round((x / Math.max(n, 1)) * 1e4) / 1e4) };
    });
    return runStages([chunker(32), tokenize, embed, pool], payload, ctx);
  },

  /** process mode (isolated): canonicalize → 64-bit simhash fingerprint → verify (near-duplicate check within the doc). */
  verify: (payload: DocumentPayload, ctx) => {
    const canonical = stage("canonicalize", (doc: DocumentPayload) => {
      if (doc.text.trim() === "") throw new NonRetryableError(`${doc.docId} is empty: nothing to verify`);
      return doc.text
        .toLowerCase()
        .replace(/[^a-z .]/g, "")
        .split(".")
        .map((s) => s.trim())
        .filter(Boolean);
    });
    const fingerprint = stage("simhash", (sentences: string[]) =>
      sentences.map((s) => {
        const bits = new Array<number>(32).fill(0);
        for (const w of s.split(" ")) {
          const h = fnv1a(w);
          for (let b = 0; b < 32; b++) bits[b]! += (h >>> b) & 1 ? 1 : -1;
        }
        return bits.reduce((acc, x, b) => (x > 0 ? acc | (1 << b) : acc), 0) >>> 0;
      }),
    );
    const check = stage("check", (hashes: number[]) => {
      const seen = new Set<number>();
      let duplicates = 0;
      for (const h of hashes) {
        if (seen.has(h)) duplicates++;
        seen.add(h);
      }
      return { sentences: hashes.length, duplicates, ok: duplicates * 4 < hashes.length };
    });
    return runStages([canonical, fingerprint, check], payload, ctx);
  },
});
