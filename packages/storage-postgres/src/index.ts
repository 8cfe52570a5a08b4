export { PostgresJobStore, MAX_KEPT_CORRUPT_RECORDS } from "./postgres-job-store.js";
export type { PostgresJobStoreOptions, PostgresJobStoreSource } from "./postgres-job-store.js";
export type { PostgresClientLike, PostgresNotificationLike, PostgresPoolLike, PostgresQueryResultLike } from "./postgres-like.js";
export { DEFAULT_SCHEMA } from "./identifiers.js";
