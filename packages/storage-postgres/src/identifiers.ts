import { ValidationError } from "@pyrexis/models";

// Schema names end up inside SQL text (a schema cannot be a bound parameter), so they are
// checked against a strict pattern here, once, and quoted wherever they are used.

/** Lowercase letters, digits and `_`, starting with a letter or `_`, at most 47 characters (so its NOTIFY channel fits the 63-byte identifier limit). */
const SCHEMA_PATTERN = /^[a-z_][a-z0-9_]{0,46}$/;

/** The schema a store uses when none is given. */
export const DEFAULT_SCHEMA = "pyrexis";

/** Throws `ValidationError` unless `schema` is a plain lowercase identifier; returns it. */
export function checkSchemaName(schema: unknown): string {
  if (typeof schema !== "string" || !SCHEMA_PATTERN.test(schema) || schema.startsWith("pg_")) {
    const message = `invalid PostgresJobStore option: schema must match ${String(SCHEMA_PATTERN)} and not start with "pg_", got ${JSON.stringify(schema)}`;
    throw new ValidationError(message, [{ path: ["schema"], message }]);
  }
  return schema;
}

/** The `NOTIFY` channel of a schema: one per schema, shared by every store instance on it. */
export function channelOf(schema: string): string {
  return `pyrexis_changes_${schema}`;
}

/** The key of the session advisory lock that serializes migrations of one schema. */
export function migrationLockKey(schema: string): string {
  return `pyrexis-migrate:${schema}`;
}

/** The key of the transaction advisory lock that serializes the flow claims of one schema. */
export function flowLockKey(schema: string): string {
  return `pyrexis-flow:${schema}`;
}
