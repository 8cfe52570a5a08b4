// The dashboard's HTTP errors: one class with a stable code from an `as const` table and the
// status it is sent with, so every refusal reaches the client as `{ error: { code, message } }`.

/** Every error code the dashboard's API answers with; codes are stable, messages may change. */
export const DashboardErrorCode = {
  /** A query parameter or body field is malformed (400). */
  BAD_REQUEST: "bad_request",
  /** The body is not JSON (400). */
  BAD_JSON: "bad_json",
  /** The body is larger than the dashboard reads (413). */
  BODY_TOO_LARGE: "body_too_large",
  /** A mutation whose body is not `application/json` (415). */
  UNSUPPORTED_MEDIA_TYPE: "unsupported_media_type",
  /** No valid token was presented where one is required (401). */
  UNAUTHORIZED: "unauthorized",
  /** The request failed the same-origin or CSRF checks (403). */
  FORBIDDEN: "forbidden",
  /** The dashboard is read-only: no action is accepted (403). */
  READ_ONLY: "read_only",
  /** No such job or route (404). */
  NOT_FOUND: "not_found",
  /** The method is not allowed on this route (405). */
  METHOD_NOT_ALLOWED: "method_not_allowed",
  /** The job is in a status the action does not apply to, or was retried already (409). */
  CONFLICT: "conflict",
  /** The store failed (500); nothing the request asked for was written. */
  STORE_FAILED: "store_failed",
} as const;

/** One of {@link DashboardErrorCode}. */
export type DashboardErrorCode = (typeof DashboardErrorCode)[keyof typeof DashboardErrorCode];

const STATUS_OF: Readonly<Record<DashboardErrorCode, number>> = {
  bad_request: 400,
  bad_json: 400,
  body_too_large: 413,
  unsupported_media_type: 415,
  unauthorized: 401,
  forbidden: 403,
  read_only: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  store_failed: 500,
};

/** A refusal the API sends as `{ error: { code, message, details? } }` with {@link HttpError.status}. */
export class HttpError extends Error {
  readonly code: DashboardErrorCode;
  readonly status: number;
  /** Extra, safe-to-show facts (e.g. the field issues, or the id a job was retried as). */
  readonly details: Readonly<Record<string, unknown>> | undefined;
  constructor(code: DashboardErrorCode, message: string, details?: Record<string, unknown>, options?: ErrorOptions) {
    super(message, options);
    this.name = "HttpError";
    this.code = code;
    this.status = STATUS_OF[code];
    this.details = details;
  }
}
