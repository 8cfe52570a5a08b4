// The jobs list's query on any store (`queryJobsPage` of `@pyrexis/storage`), with a store's
// `ValidationError` (e.g. a cursor it does not know) answered as a 400.
import { isPyrexisError } from "@pyrexis/models";
import { queryJobsPage as queryAnyStore, type JobsPage, type JobStore, type QueryJobsQuery } from "@pyrexis/storage";
import { HttpError } from "./errors.js";

/** One page of jobs matching `query`, from whatever `store` offers. */
export async function queryJobsPage(store: JobStore, query: QueryJobsQuery): Promise<JobsPage> {
  try {
    return await queryAnyStore(store, query);
  } catch (e) {
    if (isPyrexisError(e) && e.code === "VALIDATION") throw new HttpError("bad_request", e.message, { param: "query" });
    throw e;
  }
}
