export { SqliteJobStore, MAX_KEPT_CORRUPT_RECORDS } from "./sqlite-job-store.js";
export type { SqliteJobStoreOptions, SqliteJobStoreSource } from "./sqlite-job-store.js";
export type { SqliteDatabaseLike, SqliteStatementLike, SqliteTransactionLike } from "./sqlite-database-like.js";
