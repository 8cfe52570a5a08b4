/**
 * `@pyrexis/dashboard`: a web UI and JSON API over any `JobStore`, with GET /metrics.
 *
 * @example
 * ```ts
 * import { createDashboard } from "@pyrexis/dashboard";
 * const dashboard = createDashboard({ store, token });
 * console.log(await dashboard.listen()); // http://127.0.0.1:7300/
 * ```
 *
 * @packageDocumentation
 */
export {
  COUNTS_MAX_AGE_MS,
  createDashboard,
  DEFAULT_PORT,
  MIN_TOKEN_LENGTH,
  type Dashboard,
  type DashboardHandler,
  type DashboardOptions,
} from "./dashboard.js";
export { DashboardErrorCode, HttpError } from "./errors.js";
export type { BulkAction, BulkReport } from "./bulk.js";
export type { CountSample } from "./sampler.js";
export { DashboardMetrics, DASHBOARD_METRICS } from "./metrics.js";
export { CSRF_HEADER, SESSION_COOKIE } from "./security.js";
export { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from "./params.js";
