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
