// How the React app codes against the generated types. CI compiles this file with
// `tsc --strict --noEmit` against types generated from the app's own OpenAPI document: a route
// whose body loses its schema (and so degrades to `unknown`) fails the build here.
import type { components, operations } from "./schema";

type Schemas = components["schemas"];
export type Activity = Schemas["ActivityRead"];
export type Problem = Schemas["Problem"];
export type OperationId = keyof operations;

type Responses<K extends OperationId> = operations[K]["responses"];
type JsonBody<R> = R extends { content: { "application/json": infer Body } } ? Body : never;
/** The JSON body of an operation's 2xx response. */
export type Success<K extends OperationId> = {
  [S in keyof Responses<K>]: S extends 200 | 201 | 202 ? JsonBody<Responses<K>[S]> : never;
}[keyof Responses<K>];
export type Query<K extends OperationId> = NonNullable<operations[K]["parameters"]["query"]>;

/** A 4xx/5xx answer: always an RFC 9457 problem+json body. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem,
  ) {
    super(`${problem.title}: ${problem.detail}`);
  }

  /** "query.tz: Input should be ..." lines of a 422, for a form's error list. */
  fieldErrors(): string[] {
    return (this.problem.errors ?? []).map((error) => `${error.loc.join(".")}: ${error.msg}`);
  }
}

type QueryValue = string | number | boolean | readonly (string | number | boolean)[] | null;

export class ActivityServiceClient {
  constructor(
    private readonly baseUrl: string,
    private readonly token: string,
    private readonly fetchImpl: typeof fetch = fetch,
  ) {}

  private async request<K extends OperationId>(
    method: "GET" | "POST",
    path: string,
    query: { [name: string]: QueryValue | undefined } = {},
  ): Promise<Success<K>> {
    const url = new URL(`/api/v1${path}`, this.baseUrl);
    for (const [name, value] of Object.entries(query)) {
      if (value === undefined || value === null) continue;
      const values: readonly (string | number | boolean)[] = Array.isArray(value) ? value : [value];
      for (const item of values) url.searchParams.append(name, String(item));
    }
    const response = await this.fetchImpl(url, {
      method,
      headers: { Authorization: `Bearer ${this.token}`, Accept: "application/json" },
    });
    if (!response.ok) throw new ApiError(response.status, (await response.json()) as Problem);
    return (await response.json()) as Success<K>;
  }

  searchActivities(query: Query<"activities_search">) {
    return this.request<"activities_search">("GET", "/activities", query);
  }

  dashboardSummary(query: Query<"dashboard_summary"> = {}) {
    return this.request<"dashboard_summary">("GET", "/dashboard/summary", query);
  }

  timeline(query: Query<"timeline_read"> = {}) {
    return this.request<"timeline_read">("GET", "/timeline", query);
  }

  startSync(query: Query<"sync_start"> = {}) {
    return this.request<"sync_start">("POST", "/sync/odoo", query);
  }

  syncRun(runId: string) {
    return this.request<"sync_get_run">("GET", `/sync/runs/${encodeURIComponent(runId)}`);
  }
}

// Search: every page of my overdue activities, most overdue first.
export async function myOverdue(client: ActivityServiceClient): Promise<string[]> {
  const lines: string[] = [];
  let cursor: string | null | undefined = undefined;
  do {
    const page: Success<"activities_search"> = await client.searchActivities({
      user_id: "me",
      urgency: ["overdue"],
      sort: "due_date",
      limit: 50,
      include_total: true,
      ...(cursor ? { cursor } : {}),
    });
    for (const activity of page.items) {
      const overdue: number = activity.days_overdue ?? 0;
      const due: string = activity.due_date ?? "no due date";
      const on: string = activity.related ? `${activity.related.model},${activity.related.id}` : "-";
      lines.push(`${activity.subject} [${activity.type}/${activity.priority}] ${due} +${overdue}d ${on}`);
    }
    const total: number | undefined = page.total;
    if (total !== undefined && lines.length >= total) break;
    cursor = page.next_cursor;
  } while (cursor);
  return lines;
}

// Dashboard: the headline and the per-type counts, in the caller's time zone.
export async function dashboardHeadline(client: ActivityServiceClient): Promise<string> {
  const summary = await client.dashboardSummary({ user_id: "me" });
  const open: number = summary.overdue + summary.due_today + summary.upcoming + summary.no_due_date;
  const calls: number = summary.by_type.call;
  const today: string = summary.today;
  return `${today} (${summary.tz}): ${open} open, ${summary.overdue} overdue, ${calls} calls`;
}

// Timeline: activities and chatter messages in one stream, told apart by `kind`.
export async function recordHistory(client: ActivityServiceClient): Promise<string[]> {
  const page = await client.timeline({ related: "crm.lead,9", kind: ["activity", "message"] });
  return page.items.map((item) => {
    const when: string = item.occurred_at;
    switch (item.kind) {
      case "activity":
        return `${when} ${item.activity?.state ?? "?"} ${item.title}`;
      case "message":
        return `${when} ${item.message?.author_name ?? "System"}: ${item.message?.body_text ?? ""}`;
    }
  });
}

// Errors: a bad filter answers 422 problem+json with the offending parameter.
export async function searchOrExplain(client: ActivityServiceClient, related: string) {
  try {
    return (await client.searchActivities({ related })).items;
  } catch (error) {
    if (error instanceof ApiError && error.status === 422) {
      const status: number = error.problem.status;
      return [`${status} ${error.problem.title}`, ...error.fieldErrors()];
    }
    throw error;
  }
}

// Sync (ops): start a run, then read its counts per Odoo model.
export async function syncAndReport(client: ActivityServiceClient): Promise<string[]> {
  const started = await client.startSync({ full: false });
  const running: "running" = started.status;
  const run = await client.syncRun(started.run_id);
  const lines = [`${run.run_id} ${running} -> ${run.status} (${run.trigger}, full=${run.full})`];
  for (const [model, counts] of Object.entries(run.counts ?? {})) {
    lines.push(`${model}: ${counts.fetched} fetched, ${counts.upserted} written`);
  }
  return [...lines, ...(run.errors ?? [])];
}

// Type-level assertions: they fail to compile when a schema loses its types.
type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Expect<T extends true> = T;
/** Whether `unknown` (or `any`) appears anywhere in T: an untyped body, field or element. */
type HasUnknown<T, Depth extends unknown[] = []> = Depth["length"] extends 10
  ? false
  : unknown extends T
    ? true
    : T extends readonly (infer Item)[]
      ? HasUnknown<Item, [...Depth, 0]>
      : T extends object
        ? true extends { [K in keyof T]-?: HasUnknown<T[K], [...Depth, 0]> }[keyof T]
          ? true
          : false
        : false;
/** The operations whose 2xx JSON body is not fully typed: must be none. */
export type UntypedSuccessBodies = {
  [K in OperationId]: HasUnknown<Success<K>> extends false ? never : K;
}[OperationId];

export type Assertions = [
  Expect<Equals<UntypedSuccessBodies, never>>,
  // The detector itself catches what a lost schema degrades to.
  Expect<Equals<HasUnknown<{ [key: string]: unknown }>, true>>,
  Expect<Equals<HasUnknown<{ items: { subject: unknown }[] }>, true>>,
  Expect<Equals<HasUnknown<{ items: { subject: string }[] }>, false>>,
  Expect<Equals<Success<"activities_search">, Schemas["ActivityPage"]>>,
  Expect<Equals<Success<"activities_search">["items"][number], Activity>>,
  Expect<Equals<Activity["subject"], string>>,
  Expect<Equals<Activity["urgency"], "overdue" | "today" | "upcoming" | "no_due_date" | "done">>,
  Expect<Equals<Success<"activities_search">["total"], number | undefined>>,
  Expect<Equals<Success<"dashboard_summary">["by_state"]["in_progress"], number>>,
  Expect<Equals<Success<"timeline_read">["items"][number]["kind"], "activity" | "message">>,
  Expect<Equals<Success<"sync_start">["status"], "running">>,
  Expect<Equals<Success<"sync_get_run">["status"], "running" | "succeeded" | "failed">>,
  Expect<Equals<Responses<"activities_search">[422]["content"]["application/problem+json"], Problem>>,
  Expect<Equals<Problem["status"], number>>,
];
