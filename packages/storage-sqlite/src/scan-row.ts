// What the claim scans read of a job row: the plain claim's (claims.ts) and the flow claim's
// candidate scans (flow.ts) alike.

/** The columns a claim scan reads: {@link ScanRow}. */
export const SCAN_COLUMNS = "id, status, version, created_at, aging_key, mode, handler, data";

/** A row a claim scan reads. */
export interface ScanRow {
  id: string;
  status: string;
  version: number;
  created_at: number;
  aging_key: number;
  mode: unknown;
  handler: unknown;
  data: unknown;
}

/** Which optional filters a claim scan has: each costs its statement a subquery, so it is left out when unused. */
export interface ScanFilters {
  /** Only the handlers of a JSON array (`@handlers`). */
  readonly handlers: boolean;
  /** Skipping the ids of a JSON array (`@excluded`: corrupt rows this instance found). */
  readonly excluded: boolean;
}

/** Every filter combination of a claim scan's filters, as `filterKey` numbers them. */
export const SCAN_FILTER_SETS: readonly ScanFilters[] = [
  { handlers: false, excluded: false },
  { handlers: true, excluded: false },
  { handlers: false, excluded: true },
  { handlers: true, excluded: true },
];

/** The index of `filters` in {@link SCAN_FILTER_SETS}. */
export function filterKey(filters: ScanFilters): number {
  return (filters.handlers ? 1 : 0) + (filters.excluded ? 2 : 0);
}

/** The SQL of the optional filters asked for (named parameters `@handlers`, `@excluded`), each with a leading ` AND`. */
export function filterSql(filters: ScanFilters): string {
  return (
    (filters.handlers ? " AND handler IN (SELECT value FROM json_each(@handlers))" : "") +
    (filters.excluded ? " AND id NOT IN (SELECT value FROM json_each(@excluded))" : "")
  );
}
