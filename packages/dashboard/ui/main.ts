// The dashboard's UI: Preact components written with htm (tagged templates, no JSX step). Every
// value from the store is rendered as text by Preact, never as HTML; routes live in the hash
// (#/jobs?…, #/job/<id>) so a view is a link, and the server serves one page.
import { html } from "htm/preact";
import { render } from "preact";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { api, ApiError, type BulkReport, type Job, type JobDetail, type JobsPage, type Overview, type SerializedError } from "./api.js";
import { Chart } from "./chart.js";

const STATUSES = ["created", "waiting", "pending", "running", "retrying", "completed", "failed", "cancelled"];
const FILTER_FIELDS = ["status", "handler", "mode", "errorCode", "minPriority", "maxPriority", "createdFrom", "createdTo"] as const;

function time(ms: number): string {
  return new Date(ms).toISOString().replace("T", " ").replace("Z", "");
}

function message(e: unknown): string {
  return e instanceof ApiError ? `${e.message} (${e.code})` : e instanceof Error ? e.message : String(e);
}

/** The current hash route. */
function useRoute(): { path: string; query: URLSearchParams } {
  const read = () => {
    const hash = location.hash.replace(/^#/, "") || "/jobs";
    const [path, query] = hash.split("?", 2) as [string, string | undefined];
    return { path, query: new URLSearchParams(query ?? "") };
  };
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const on = () => setRoute(read());
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return route;
}

/** Calls `fn` now and every `ms` while mounted (and while `active`). */
function usePoll(fn: () => Promise<void>, ms: number, deps: unknown[], active = true): void {
  useEffect(() => {
    if (!active) return;
    let stopped = false;
    let timer: number | undefined;
    const tick = async () => {
      await fn().catch(() => {});
      if (!stopped) timer = window.setTimeout(() => void tick(), ms);
    };
    void tick();
    return () => {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
    };
  }, [...deps, ms, active]);
}

function Badge({ status }: { status: string }) {
  return html`<span class=${`badge status-${status}`} data-status=${status}>${status}</span>`;
}

/** A modal asking to confirm an action; resolves through `onAnswer`. */
function Confirm({ text, onAnswer }: { text: string; onAnswer: (yes: boolean) => void }) {
  return html`<div class="modal-backdrop">
    <div class="modal" role="dialog" aria-modal="true" aria-label="Confirm">
      <p class="confirm-text">${text}</p>
      <div class="modal-buttons">
        <button class="secondary" onClick=${() => onAnswer(false)}>Keep</button>
        <button class="danger" data-testid="confirm-yes" onClick=${() => onAnswer(true)}>Yes, do it</button>
      </div>
    </div>
  </div>`;
}

function SignIn({ overview, onChange }: { overview: Overview; onChange: () => void }) {
  const [token, setToken] = useState("");
  const [error, setError] = useState("");
  if (overview.signedIn) {
    return html`<span class="signed-in"
      >Signed in <button class="link" onClick=${() => void api.logout().then(onChange)}>sign out</button></span
    >`;
  }
  if (overview.readOnly && overview.readAccess === "open") return null;
  const submit = async (e: Event) => {
    e.preventDefault();
    try {
      await api.login(token);
      setToken("");
      setError("");
      onChange();
    } catch (err) {
      setError(message(err));
    }
  };
  return html`<form class="sign-in" onSubmit=${submit}>
    <input
      type="password"
      aria-label="Access token"
      placeholder="access token"
      value=${token}
      onInput=${(e: Event) => setToken((e.target as HTMLInputElement).value)}
    />
    <button type="submit">Sign in</button>
    ${error && html`<span class="error-text">${error}</span>`}
  </form>`;
}

function Counts({ counts }: { counts: Record<string, number> }) {
  return html`<div class="counts">
    ${STATUSES.map(
      (s) =>
        html`<a class="count" href=${`#/jobs?status=${s}`} data-testid=${`count-${s}`}>
          <${Badge} status=${s} /><span class="count-n">${counts[s] ?? 0}</span>
        </a>`,
    )}
  </div>`;
}

function toLocalInput(ms: string | null): string {
  if (!ms) return "";
  const d = new Date(Number(ms));
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** The filter form: its own state (the list re-renders on every poll and must not reset what is being typed). */
function Filters({ query }: { query: URLSearchParams }) {
  const [statuses, setStatuses] = useState(() => new Set((query.get("status") ?? "").split(",").filter(Boolean)));
  const [fields, setFields] = useState<Record<string, string>>(() => ({
    handler: query.get("handler") ?? "",
    mode: query.get("mode") ?? "",
    errorCode: query.get("errorCode") ?? "",
    minPriority: query.get("minPriority") ?? "",
    maxPriority: query.get("maxPriority") ?? "",
    createdFrom: toLocalInput(query.get("createdFrom")),
    createdTo: toLocalInput(query.get("createdTo")),
  }));
  const set = (name: string) => (e: Event) => setFields({ ...fields, [name]: (e.target as HTMLInputElement).value });
  const toggle = (s: string) => {
    const next = new Set(statuses);
    if (next.has(s)) next.delete(s);
    else next.add(s);
    setStatuses(next);
  };
  const submit = (e: Event) => {
    e.preventDefault();
    const next = new URLSearchParams();
    const picked = STATUSES.filter((s) => statuses.has(s));
    if (picked.length > 0) next.set("status", picked.join(","));
    for (const f of ["handler", "mode", "errorCode", "minPriority", "maxPriority"]) {
      const v = (fields[f] ?? "").trim();
      if (v) next.set(f, v);
    }
    for (const f of ["createdFrom", "createdTo"]) {
      const v = fields[f] ?? "";
      if (v) next.set(f, String(new Date(v).getTime()));
    }
    location.hash = `#/jobs?${next.toString()}`;
  };
  const input = (label: string, name: string, type = "text", extra: Record<string, string> = {}) =>
    html`<label>${label} <input name=${name} type=${type} value=${fields[name]} onInput=${set(name)} ...${extra} /></label>`;
  return html`<form class="filters" onSubmit=${submit} aria-label="Filters">
    <fieldset class="statuses">
      <legend>Status</legend>
      ${STATUSES.map((s) => html`<label><input type="checkbox" checked=${statuses.has(s)} onChange=${() => toggle(s)} />${s}</label>`)}
    </fieldset>
    ${input("Handler", "handler", "text", { placeholder: "any" })} ${input("Mode", "mode", "text", { placeholder: "any" })}
    ${input("Error code", "errorCode", "text", { placeholder: "any" })}
    ${input("Priority ≥", "minPriority", "number", { min: "0", max: "10" })}
    ${input("Priority ≤", "maxPriority", "number", { min: "0", max: "10" })} ${input("Created from", "createdFrom", "datetime-local")}
    ${input("Created before", "createdTo", "datetime-local")}
    <button type="submit">Apply</button>
    <a class="button secondary" href="#/jobs">Clear</a>
  </form>`;
}

function Bulk({ filter, overview, onDone }: { filter: string; overview: Overview; onDone: () => void }) {
  const [asking, setAsking] = useState<{ action: string; report: BulkReport } | undefined>();
  const [note, setNote] = useState("");
  if (overview.readOnly || !overview.signedIn) return null;
  const start = async (action: string) => {
    try {
      const report = await api.bulk(action, filter, true);
      setAsking({ action, report });
    } catch (e) {
      setNote(message(e));
    }
  };
  const answer = async (yes: boolean) => {
    const a = asking;
    setAsking(undefined);
    if (!yes || !a) return;
    try {
      const r = await api.bulk(a.action, filter, false);
      setNote(`${a.action}: ${r.done} done, ${r.failed} failed, ${r.skipped} skipped${r.truncated ? " (stopped at the limit)" : ""}`);
      onDone();
    } catch (e) {
      setNote(message(e));
    }
  };
  return html`<div class="bulk">
    <button class="secondary" onClick=${() => void start("cancel")}>Cancel all matching…</button>
    <button class="secondary" onClick=${() => void start("retry")}>Retry all matching…</button>
    ${note && html`<span class="note" data-testid="bulk-note">${note}</span>`}
    ${
      asking &&
      html`<${Confirm}
        text=${`${asking.action === "cancel" ? "Cancel" : "Retry"} ${asking.report.eligible}${asking.report.truncated ? "+" : ""} matching job(s)? ${asking.report.skipped} matching job(s) are not eligible and stay as they are.`}
        onAnswer=${(yes: boolean) => void answer(yes)}
      />`
    }
  </div>`;
}

function JobsView({ query, overview, refresh }: { query: URLSearchParams; overview: Overview; refresh: () => void }) {
  const [page, setPage] = useState<JobsPage | undefined>();
  const [error, setError] = useState("");
  const filter = new URLSearchParams();
  for (const f of FILTER_FIELDS) {
    const v = query.get(f);
    if (v) filter.set(f, v);
  }
  const filterText = filter.toString();
  const cursor = query.get("cursor") ?? "";
  const load = useCallback(async () => {
    const q = new URLSearchParams(filter);
    if (cursor) q.set("cursor", cursor);
    try {
      setPage(await api.jobs(q.toString()));
      setError("");
    } catch (e) {
      setError(message(e));
    }
  }, [filterText, cursor]);
  usePoll(load, overview.pollIntervalMs, [load]);
  const next = page?.cursor ? `#/jobs?${new URLSearchParams([...filter, ["cursor", page.cursor]]).toString()}` : undefined;
  return html`<section>
    <${Counts} counts=${overview.counts} />
    <${Chart} pollMs=${Math.max(overview.sampleIntervalMs, overview.pollIntervalMs)} />
    <${Filters} key=${filterText} query=${query} />
    <${Bulk} filter=${filterText} overview=${overview} onDone=${() => void load().then(refresh)} />
    ${error && html`<p class="error-text" role="alert">${error}</p>`}
    ${
      !overview.store.queryJobs &&
      html`<p class="note">
        This store has no queryJobs capability: filters other than status are applied by the dashboard over bounded pages.
      </p>`
    }
    <table class="jobs" aria-label="Jobs">
      <thead>
        <tr>
          <th>Id</th>
          <th>Handler</th>
          <th>Mode</th>
          <th>Priority</th>
          <th>Status</th>
          <th>Attempts</th>
          <th>Created</th>
          <th>Updated</th>
        </tr>
      </thead>
      <tbody>
        ${(page?.jobs ?? []).map(
          (j: Job) =>
            html`<tr data-job-id=${j.id}>
              <td class="id"><a href=${`#/job/${encodeURIComponent(j.id)}`}>${j.id}</a></td>
              <td>${j.handler}</td>
              <td>${j.mode}</td>
              <td>${j.priority}</td>
              <td><${Badge} status=${j.status} /></td>
              <td>${j.attempts}/${j.maxAttempts}</td>
              <td>${time(j.createdAt)}</td>
              <td>${time(j.updatedAt)}</td>
            </tr>`,
        )}
      </tbody>
    </table>
    ${page && page.jobs.length === 0 && html`<p class="empty">No jobs match.</p>`}
    ${page?.partial && html`<p class="note">Read the store's budget for one page; more may match further on.</p>`}
    <nav class="pager">
      ${cursor && html`<a class="button secondary" href=${`#/jobs?${filterText}`}>First page</a>`}
      ${next && html`<a class="button secondary" href=${next} data-testid="next-page">Next page</a>`}
    </nav>
  </section>`;
}

function ErrorBlock({ title, error }: { title: string; error: SerializedError }) {
  const { name, message: text, code, stack, cause, ...rest } = error;
  return html`<div class="error-block" data-testid="error-block">
    <h3>${title}</h3>
    <p><strong>${name}</strong>${code ? html` <code>${code}</code>` : null}: ${text}</p>
    ${stack && html`<pre class="stack">${stack}</pre>`} ${Object.keys(rest).length > 0 && html`<pre>${JSON.stringify(rest, null, 2)}</pre>`}
    ${cause && html`<${ErrorBlock} title="Caused by" error=${cause} />`}
  </div>`;
}

function JobView({ id, overview, refresh }: { id: string; overview: Overview; refresh: () => void }) {
  const [detail, setDetail] = useState<JobDetail | undefined>();
  const [error, setError] = useState("");
  const [asking, setAsking] = useState<"cancel" | "retry" | undefined>();
  const [note, setNote] = useState("");
  const changes = useRef<{ at: number; text: string }[]>([]);
  const load = useCallback(async () => {
    try {
      const d = await api.job(id);
      setDetail((prev) => {
        if (prev && (prev.job.version !== d.job.version || prev.job.status !== d.job.status)) {
          changes.current = [
            { at: d.job.updatedAt, text: `${prev.job.status} → ${d.job.status}, attempt ${d.job.attempts}/${d.job.maxAttempts}` },
            ...changes.current,
          ].slice(0, 20);
        }
        return d;
      });
      setError("");
    } catch (e) {
      setError(message(e));
    }
  }, [id]);
  const terminal = detail ? ["completed", "failed", "cancelled"].includes(detail.job.status) : false;
  // Live while the job can still change; one more read after it finished is not needed.
  usePoll(load, overview.pollIntervalMs, [load], !terminal);
  const act = async (yes: boolean) => {
    const action = asking;
    setAsking(undefined);
    if (!yes || !action) return;
    try {
      if (action === "cancel") {
        await api.cancel(id);
        setNote("Cancelled.");
        await load();
      } else {
        const { job } = await api.retry(id);
        setNote(`Retried as ${job.id}.`);
        await load();
      }
      refresh();
    } catch (e) {
      setNote(message(e));
    }
  };
  if (error && !detail) return html`<p class="error-text" role="alert">${error}</p>`;
  if (!detail) return html`<p>Loading…</p>`;
  const { job, result } = detail;
  const { payload, lastError, attemptErrors, dependsOn, ...spec } = job;
  const mayAct = !overview.readOnly && overview.signedIn;
  return html`<section class="job">
    <p><a href="#/jobs">← Jobs</a></p>
    <h2><span class="job-id">${job.id}</span> <${Badge} status=${job.status} /></h2>
    <div class="live" data-testid="live">
      <span>${terminal ? "Finished" : "Live"}: </span>
      <span data-testid="live-status">${job.status}</span>, attempt
      <span data-testid="live-attempts">${job.attempts}</span>/${job.maxAttempts}, updated
      <span data-testid="live-updated">${time(job.updatedAt)}</span>, version ${job.version}
      ${!terminal && html`<span class="pulse" aria-hidden="true"></span>`}
    </div>
    ${
      changes.current.length > 0 &&
      html`<ul class="changes" data-testid="changes">
        ${changes.current.map((c) => html`<li>${time(c.at)}: ${c.text}</li>`)}
      </ul>`
    }
    <p class="note">
      The store keeps the job's status, attempt count, update time and the errors of its last failed attempts, not progress reports: shown
      is what it holds.
    </p>
    ${detail.retryOf && html`<p>Retry of <a href=${`#/job/${encodeURIComponent(detail.retryOf)}`}>${detail.retryOf}</a></p>`}
    ${detail.retriedAs && html`<p>Retried as <a data-testid="retried-as" href=${`#/job/${encodeURIComponent(detail.retriedAs)}`}>${detail.retriedAs}</a></p>`}
    <div class="actions">
      ${overview.readOnly && html`<span class="note" data-testid="read-only">Read-only dashboard: no actions.</span>`}
      ${mayAct && detail.canCancel && html`<button class="danger" onClick=${() => setAsking("cancel")}>Cancel job…</button>`}
      ${mayAct && detail.canRetry && html`<button onClick=${() => setAsking("retry")}>Retry as a new job…</button>`}
      ${!overview.readOnly && !overview.signedIn && (detail.canCancel || detail.canRetry) && html`<span class="note">Sign in to act on this job.</span>`}
      ${note && html`<span class="note" data-testid="action-note">${note}</span>`}
    </div>
    ${
      asking &&
      html`<${Confirm}
        text=${asking === "cancel" ? `Cancel job ${job.id}? A running attempt is stopped by its engine.` : `Submit a new job with the spec of ${job.id}?`}
        onAnswer=${(yes: boolean) => void act(yes)}
      />`
    }
    <h3>Spec</h3>
    <table class="spec">
      ${Object.entries(spec).map(
        ([k, v]) =>
          html`<tr>
            <th>${k}</th>
            <td>${k.endsWith("At") ? time(v as number) : typeof v === "object" ? JSON.stringify(v) : String(v)}</td>
          </tr>`,
      )}
    </table>
    ${
      dependsOn &&
      html`<h3>Depends on</h3>
        <ul class="depends-on" data-testid="depends-on">
          ${dependsOn.map((p) => html`<li><a href=${`#/job/${encodeURIComponent(p)}`}>${p}</a></li>`)}
        </ul>`
    }
    <h3>Payload</h3>
    <pre class="payload" data-testid="payload">${JSON.stringify(payload, null, 2)}</pre>
    ${
      attemptErrors && attemptErrors.length > 0
        ? html`<div data-testid="attempt-errors">
            <h3>Failed attempts</h3>
            ${attemptErrors.map(
              (a) =>
                html`<div data-testid="attempt-error">
                  <${ErrorBlock} title=${`Attempt ${a.attempt}, ${time(a.at)}`} error=${a.error} />
                </div>`,
            )}
          </div>`
        : lastError && html`<${ErrorBlock} title="Last error (the job record)" error=${lastError} />`
    }
    <h3>Result</h3>
    ${
      result === null
        ? html`<p class="empty">No result yet.</p>`
        : html`<div data-testid="result">
            <p>
              <${Badge} status=${result.status} /> after ${result.attempts} attempt(s), ${result.durationMs} ms (${time(result.startedAt)} →
              ${time(result.endedAt)})
            </p>
            ${result.output !== undefined && html`<pre class="output">${JSON.stringify(result.output, null, 2)}</pre>`}
            ${result.error && html`<${ErrorBlock} title="Result error" error=${result.error} />`}
          </div>`
    }
  </section>`;
}

function App() {
  const route = useRoute();
  const [overview, setOverview] = useState<Overview | undefined>();
  const [error, setError] = useState("");
  const [tick, setTick] = useState(0);
  const refresh = () => setTick((t) => t + 1);
  const load = useCallback(async () => {
    try {
      setOverview(await api.overview());
      setError("");
    } catch (e) {
      setError(message(e));
      if (e instanceof ApiError && e.status === 401) setOverview(undefined);
    }
  }, [tick]);
  usePoll(load, overview?.pollIntervalMs ?? 2000, [load]);
  const jobMatch = /^\/job\/(.+)$/.exec(route.path);
  return html`<div class="app">
    <header>
      <h1><a href="#/jobs">Pyrexis</a></h1>
      ${overview?.readOnly && html`<span class="badge read-only">read-only</span>`}
      <span class="spacer"></span>
      ${
        overview
          ? html`<${SignIn} overview=${overview} onChange=${refresh} />`
          : html`<${SignIn} overview=${{ signedIn: false, readOnly: false, readAccess: "token" } as Overview} onChange=${refresh} />`
      }
    </header>
    <main>
      ${error && !overview && html`<p class="error-text" role="alert">${error}</p>`}
      ${
        overview &&
        (jobMatch
          ? html`<${JobView} key=${jobMatch[1]} id=${decodeURIComponent(jobMatch[1]!)} overview=${overview} refresh=${refresh} />`
          : html`<${JobsView} query=${route.query} overview=${overview} refresh=${refresh} />`)
      }
    </main>
  </div>`;
}

render(html`<${App} />`, document.getElementById("app")!);
