import { createExecutors, loadHandlersModule, type HandlerMap, type PoolExecutorOptions } from "@pyrexis/executors";
import { IncompatibleStoreError, type Clock } from "@pyrexis/models";
import { MemoryJobStore, type JobStore } from "@pyrexis/storage";
import type * as PostgresModuleNs from "@pyrexis/storage-postgres";
import type * as SqliteModuleNs from "@pyrexis/storage-sqlite";
import { Engine } from "./engine.js";
import { batchDefinitionOf, type BatchHandler } from "./batch-handler.js";
import type { EngineOptions, ExecutorSource } from "./options.js";

// Only types: the SQLite and PostgreSQL stores are optional peers, loaded when a path or a
// postgres:// URL is given.
type SqliteModule = typeof SqliteModuleNs;
type PostgresModule = typeof PostgresModuleNs;

/** A `postgres://` or `postgresql://` connection string. */
const POSTGRES_URL = /^postgres(?:ql)?:\/\//;

/** Options of {@link createEngine}: the engine's options with sensible defaults for the parts. */
export interface CreateEngineOptions extends Omit<EngineOptions, "store" | "executors" | "handlerNames" | "batchHandlers"> {
  /**
   * A store, a SQLite file path (needs `@pyrexis/storage-sqlite` installed; `":memory:"` for
   * an in-memory SQLite database), or a `postgres://` URL (needs `@pyrexis/storage-postgres`;
   * the store's default schema). Default: a `MemoryJobStore` (no durability).
   */
  store?: JobStore | string | undefined;
  /**
   * Handlers: inline functions (async mode only) or the path/URL of a handlers module (all
   * modes: the thread and process executors load it in their workers). Handlers made with
   * `batchHandler` (in the map or the module) run in batches, in async mode.
   */
  handlers?: HandlerMap | string | URL | undefined;
  /** A handlers module for thread/process mode when `handlers` are inline functions. */
  handlersModule?: string | URL | undefined;
  /** Options of the thread pool (created lazily on first use). */
  thread?: Omit<PoolExecutorOptions, "handlersModule"> | undefined;
  /** Options of the process pool (created lazily on first use). */
  process?: Omit<PoolExecutorOptions, "handlersModule"> | undefined;
  /** Replace the executors entirely (then `handlers` only names the known handlers). */
  executors?: ExecutorSource | undefined;
  /** Run recovery before returning (default true). */
  start?: boolean | undefined;
}

/**
 * Builds an engine from defaults: the store (SQLite when given a path, memory otherwise), the
 * async / thread / process executors for the handlers, and runs recovery.
 *
 * @example
 * ```ts
 * const engine = await createEngine({ store: "./jobs.db", handlers: new URL("./handlers.js", import.meta.url) });
 * await engine.submitJob({ handler: "embed", payload: { text: "hello" }, mode: "thread" });
 * await engine.runLoop(); // until engine.shutdown()
 * ```
 */
export async function createEngine(options: CreateEngineOptions = {}): Promise<Engine> {
  const { store: storeOption, handlers, handlersModule, thread, process, executors: given, start, ...engineOptions } = options;
  const isModule = typeof handlers === "string" || handlers instanceof URL;
  const handlerMap = isModule ? await loadHandlersModule(handlers) : handlers;
  const handlerNames = handlerMap ? Object.keys(handlerMap) : undefined;
  const batchHandlers = handlerMap ? batchHandlersOf(handlerMap) : undefined;
  if (!given && !handlerMap && handlersModule === undefined) {
    throw new TypeError("createEngine: give handlers (functions or a module path) or executors");
  }
  // The store first: opening it is what fails for a wrong path or a foreign file.
  const store = await openStore(storeOption, engineOptions.agingRate, engineOptions.clock);
  let executors: ExecutorSource;
  try {
    executors =
      given ??
      createExecutors({
        handlers: isModule ? handlers : (handlerMap ?? (handlersModule as string | URL)),
        ...(handlersModule !== undefined ? { handlersModule } : {}),
        ...(thread ? { thread } : {}),
        ...(process ? { process } : {}),
        ...(engineOptions.logger ? { logger: engineOptions.logger } : {}),
      });
  } catch (error) {
    await store.close().catch(() => {});
    throw error;
  }
  let engine: Engine;
  try {
    engine = new Engine({ ...engineOptions, store, executors, handlerNames, batchHandlers });
  } catch (error) {
    // A refused option (e.g. `retention`): release what was made here, keep what was given.
    if (given === undefined) await executors.close().catch(() => {});
    if (typeof storeOption !== "object") await store.close().catch(() => {});
    throw error;
  }
  if (start !== false) {
    try {
      await engine.start();
    } catch (error) {
      await engine.shutdown({ graceMs: 0 }).catch(() => {});
      throw error;
    }
  }
  return engine;
}

/** The batching handlers of a handler map (made with `batchHandler`); `undefined` when none. */
function batchHandlersOf(handlers: HandlerMap): Record<string, BatchHandler> | undefined {
  let out: Record<string, BatchHandler> | undefined;
  for (const [name, handler] of Object.entries(handlers)) {
    if (batchDefinitionOf(handler) !== undefined) (out ??= {})[name] = handler as BatchHandler;
  }
  return out;
}

async function openStore(store: JobStore | string | undefined, agingRate: number | undefined, clock: Clock | undefined): Promise<JobStore> {
  // The store orders claims and judges "due": by the engine's aging rate and clock.
  if (store === undefined || store === "memory") {
    return new MemoryJobStore({ ...(agingRate === undefined ? {} : { agingRate }), ...(clock === undefined ? {} : { clock }) });
  }
  if (typeof store !== "string") return store;
  if (POSTGRES_URL.test(store)) return openPostgres(store, agingRate);
  let sqlite: SqliteModule;
  try {
    sqlite = await import("@pyrexis/storage-sqlite");
  } catch (error) {
    throw new IncompatibleStoreError(
      `store "${store}" is a SQLite path, but @pyrexis/storage-sqlite is not installed (npm i @pyrexis/storage-sqlite)`,
      { cause: error },
    );
  }
  return sqlite.SqliteJobStore.open({ path: store }, agingRate === undefined ? {} : { agingRate });
}

async function openPostgres(url: string, agingRate: number | undefined): Promise<JobStore> {
  let postgres: PostgresModule;
  try {
    postgres = await import("@pyrexis/storage-postgres");
  } catch (error) {
    throw new IncompatibleStoreError(
      "store is a postgres:// URL, but @pyrexis/storage-postgres is not installed (install it beside @pyrexis/engine)",
      { cause: error },
    );
  }
  return postgres.PostgresJobStore.open({ connectionString: url }, agingRate === undefined ? {} : { agingRate });
}
