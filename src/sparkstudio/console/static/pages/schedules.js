// Notebook schedules of a studio: name, status, cron and time zone, next due time,
// notebook and target; a form to create one (its fields as a notebook run's, plus when).

import { all, api, badge, clear, form, goTo, h, link, live, table, when } from "../lib.js";
import { executionBody, executionSpecs, namesOf, notebookText, targetLink, targetsOf, withNotebookErrors } from "./notebooks.js";

/** IANA time zones the browser knows, UTC first (the API checks the name in any case). */
export function timeZones() {
  const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  return ["UTC", ...zones.filter((z) => z !== "UTC")];
}

export const POLICIES = [
  ["SKIP", "SKIP: run none of the missed times"],
  ["CATCH_UP_ONE", "CATCH_UP_ONE: run the latest missed time once"],
];

export async function render(ctx) {
  const { main, studio } = ctx;
  const base = `/studios/${studio.id}`;
  const page = `/console/studios/${studio.id}/schedules`;
  const list = h("div", { id: "schedule-list" });
  const known = await targetsOf(base);
  const names = namesOf(known);

  async function refresh() {
    const schedules = await all(`${base}/notebook-schedules`);
    clear(
      list,
      table(
        [
          ["Name", (s) => link(`${page}/${s.id}`, s.name, { "data-schedule": s.name })],
          ["Status", (s) => badge(s.status)],
          ["When", (s) => h("span", {}, h("code", {}, s.cron), ` ${s.time_zone}`)],
          ["Next due", (s) => when(s.next_due_at) || "—"],
          ["Notebook", (s) => notebookText(s.notebook, names)],
          ["On", (s) => targetLink(studio.id, s.target, names)],
        ],
        schedules,
        { id: "schedules", empty: "No schedules yet: create one below." },
      ),
    );
  }

  const create = form(
    [
      { name: "name", label: "Name", required: true, help: "Letters, digits, '.', '_' and '-'; unique in the studio." },
      { name: "description", label: "Description" },
      { name: "cron", label: "Cron expression", required: true, placeholder: "0 6 * * 1-5",
        help: "minute hour day-of-month month day-of-week, e.g. '0 6 * * 1-5' or '*/15 * * * *'; or @hourly, @daily, @weekly, @monthly, @yearly." },
      { name: "time_zone", label: "Time zone", type: "select", choices: timeZones(), value: "UTC", help: "The cron expression follows this zone's wall clock." },
      ...executionSpecs(known, studio),
      { name: "max_concurrent_runs", label: "Runs in progress at most", type: "number", min: 1, max: 20, value: 1,
        help: "A run due while this many are in progress is skipped (and recorded)." },
      { name: "missed_run_policy", label: "Missed runs", type: "select", choices: POLICIES, value: "SKIP",
        help: "Due times passed while the control plane could not run them." },
      { name: "paused", label: "Create it paused", type: "checkbox" },
    ],
    (values) => withNotebookErrors(values, async () => {
      const body = {
        ...executionBody(values),
        name: values.name.trim(),
        description: values.description,
        cron: values.cron.trim(),
        time_zone: values.time_zone,
        missed_run_policy: values.missed_run_policy,
        paused: values.paused,
      };
      if (values.max_concurrent_runs !== undefined) body.max_concurrent_runs = values.max_concurrent_runs;
      const created = await api("POST", `${base}/notebook-schedules`, body);
      goTo(`${page}/${created.id}`, `Schedule ${created.name} is created${created.status === "PAUSED" ? ", paused" : ""}.`);
    }),
    { label: "Create schedule", id: "new-schedule" },
  );

  clear(
    main,
    h("h1", {}, "Notebook schedules"),
    h("p", { class: "help" }, "A schedule runs a notebook on a cron expression in a time zone; each run is a notebook run like any other."),
    list,
    h("h2", {}, "New schedule"),
    create,
  );
  await refresh();
  // Next due times move on as runs start: keep them current.
  live(refresh, 10);
}
