import type { JobSpecInput } from "@pyrexis/models";
import { mulberry32 } from "./random.js";

const WORDS = (
  "model inference token embedding vector batch latency throughput queue shard replica gradient " +
  "attention layer prompt context window cache retrieval index cosine similarity cluster document " +
  "pipeline stage worker thread process retry backoff timeout checkpoint dataset label score rank " +
  "transformer encoder decoder sample temperature logits softmax normalize quantize precision recall"
).split(" ");

/** Payload of every demo job. */
export interface DocumentPayload {
  readonly docId: string;
  readonly text: string;
  /** The run's seed: handlers derive their simulated latency and failures from it. */
  readonly seed: number;
}

/** The named limit of the (simulated) model API the `analyze` jobs call. */
export const MODEL_API_LIMIT = "model-api";

/**
 * What an `analyze` job is admitted with on the model API's token budget before the call: an
 * estimate from the text (about 4/3 tokens per word, as LLM tokenizers count English). The
 * handler then charges what the call really used (`ctx.charge`).
 */
export function estimateTokens(text: string): number {
  const words = text.split(/\s+/).filter((t) => t.length > 0).length;
  return Math.max(1, Math.ceil((words * 4) / 3));
}

/** What kind of job a document becomes, by the work it needs. */
export type DocumentKind = "analyze" | "embed" | "verify";

/** The mode each kind runs in: I/O-bound model calls async, CPU-bound embedding on threads, isolated checks in processes. */
export const MODE_OF: Readonly<Record<DocumentKind, "async" | "thread" | "process">> = Object.freeze({
  analyze: "async",
  embed: "thread",
  verify: "process",
});

function sentence(rand: () => number): string {
  const n = 6 + Math.floor(rand() * 12);
  const words: string[] = [];
  for (let i = 0; i < n; i++) words.push(WORDS[Math.floor(rand() * WORDS.length)] as string);
  return `${words.join(" ")}.`;
}

/**
 * Builds the batch: `size` job specs over synthetic documents, deterministic for a seed. About
 * 60 % are analyzed by a (simulated) model API, 30 % embedded on worker threads, 10 % verified in
 * child processes; priorities vary (a few urgent documents); about 1 % are empty, which the
 * handlers reject as non-retryable, so the summary shows real failures.
 */
export function buildBatch(size: number, seed: number): JobSpecInput[] {
  const rand = mulberry32(seed);
  const specs: JobSpecInput[] = [];
  for (let i = 0; i < size; i++) {
    const r = rand();
    const kind: DocumentKind = r < 0.6 ? "analyze" : r < 0.9 ? "embed" : "verify";
    const empty = rand() < 0.01;
    const sentences = 8 + Math.floor(rand() * 24);
    const text = empty ? "" : Array.from({ length: sentences }, () => sentence(rand)).join(" ");
    const docId = `doc-${String(i).padStart(5, "0")}`;
    const payload: DocumentPayload = { docId, text, seed };
    const urgent = rand() < 0.1;
    specs.push({
      id: `${kind}-${docId}`,
      handler: kind,
      mode: MODE_OF[kind],
      payload: { ...payload },
      priority: urgent ? 9 : 2 + Math.floor(rand() * 5),
      maxAttempts: 4,
      // The model API's token budget: admitted with an estimate, the real usage charged after.
      ...(kind === "analyze" ? { limits: [{ key: MODEL_API_LIMIT, units: estimateTokens(text) }] } : {}),
      // Small backoff so the demo stays fast: 100 ms, 200 ms, 400 ms, jittered.
      backoff: { baseMs: 50, maxMs: 1000, jitter: 0.2 },
    });
  }
  return specs;
}
