// One notebook schedule: its facts, pause / resume / run now / delete, a form to change
// when it runs, the history of its runs (links to each notebook run) and its events.

import { all, api, badge, button, clear, flash, form, goTo, h, link, live, table, when } from "../lib.js";
import { reasonText, timeline } from "./applications.js";
import { namesOf, notebookText, targetLink, targetsOf } from "./notebooks.js";
import { POLICIES, timeZones } from "./schedules.js";

function facts(s, studioId, names) {
  const rows = [
    ["Id", h("code", {}, s.id)],
    ["When", h("span", { id: "schedule-when" }, h("code", {}, s.cron), ` in ${s.time_zone}`)],
    ["Next due", h("span", { id: "schedule-next" }, s.next_due_at ? when(s.next_due_at) : s.status === "PAUSED" ? "none while paused" : "—")],
    ["Last due", when(s.last_due_at) || "—"],
    ["Notebook", notebookText(s.notebook, names)],
    ["Runs on", targetLink(studioId, s.target, names)],
    ["Parameters", Object.keys(s.parameters).length ? h("pre", {}, JSON.stringify(s.parameters, null, 2)) : "—"],
    ["Environment variables", s.environment_variable_names.length ? s.environment_variable_names.join(", ") + " (values never shown)" : "—"],
    ["Runs at once", String(s.max_concurrent_runs)],
    ["Missed runs", s.missed_run_policy],
    ["Timeout", s.timeout_minutes ? `${s.timeout_minutes} min` : "none"],
    ["Output location", s.output_location ? h("code", {}, s.output_location) : "the studio's storage"],
    ["Description", s.description || "—"],
    ["Created", h("span", {}, when(s.created_at), ` by ${s.created_by}`)],
  ];
  return h("dl", { class: "facts" }, rows.map(([dt, dd]) => [h("dt", {}, dt), h("dd", {}, dd)]));
}

export async function render(ctx) {
  const { main, studio, params } = ctx;
  const base = `/studios/${studio.id}`;
  const path = `${base}/notebook-schedules/${encodeURIComponent(params.schedule)}`;
  const notebooks = `/console/studios/${studio.id}/notebooks`;
  const head = h("div", { id: "schedule-head" });
  const runs = h("div", { id: "schedule-runs" });
  const events = h("div", { id: "schedule-events" });
  const change = h("div", { id: "schedule-change" });
  const names = namesOf(await targetsOf(base));

  async function refresh() {
    const [s, history, changes] = await Promise.all([api("GET", path), all(`${path}/runs`), all(`${path}/events`)]);
    clear(
      head,
      h("p", {}, link(`/console/studios/${studio.id}/schedules`, "← Schedules")),
      h("h1", {}, `Schedule ${s.name}`),
      h("p", { id: "schedule-state" }, badge(s.status), " ", reasonText(s.status_reason)),
      h("div", { class: "row-actions start" }, actions(s)),
      facts(s, studio.id, names),
    );
    clear(
      runs,
      table(
        [
          ["Run", (e) => link(`${notebooks}/${e.id}`, e.name || e.id)],
          ["State", (e) => badge(e.status)],
          ["Due", (e) => when(e.scheduled_for) || "—"],
          ["Started", (e) => when(e.created_at)],
          ["Ended", (e) => when(e.ended_at) || "—"],
        ],
        history.reverse(),
        { id: "schedule-history", empty: "No run yet: the first starts when it is due, or run it now." },
      ),
    );
    clear(events, timeline(changes, { id: "schedule-timeline" }));
    return s;
  }

  function actions(s) {
    const act = (text, verb, message, id) => button(text, async () => {
      await api("POST", `${path}/${verb}`);
      flash(message);
      await refresh();
    }, { id });
    return [
      s.status === "PAUSED"
        ? act("Resume", "resume", `Schedule ${s.name} is resumed: due again from now.`, "resume-schedule")
        : act("Pause", "pause", `Schedule ${s.name} is paused: nothing starts until it is resumed.`, "pause-schedule"),
      button("Run now", async () => {
        const run = await api("POST", `${path}/run`);
        goTo(`${notebooks}/${run.id}`, `Schedule ${s.name} started a run now.`);
      }, { kind: "primary", id: "run-schedule" }),
      button("Delete", async () => {
        await api("DELETE", path);
        goTo(`/console/studios/${studio.id}/schedules`, `Schedule ${s.name} is deleted; its runs stay listed.`);
      }, { kind: "danger", confirmText: `Delete schedule ${s.name}? Runs in progress go on; its runs stay listed.`, id: "delete-schedule" }),
    ];
  }

  function changeForm(s) {
    return form(
      [
        { name: "cron", label: "Cron expression", value: s.cron, required: true },
        { name: "time_zone", label: "Time zone", type: "select", choices: timeZones(), value: s.time_zone },
        { name: "max_concurrent_runs", label: "Runs in progress at most", type: "number", min: 1, max: 20, value: s.max_concurrent_runs },
        { name: "missed_run_policy", label: "Missed runs", type: "select", choices: POLICIES, value: s.missed_run_policy },
        { name: "description", label: "Description", value: s.description },
      ],
      async (values) => {
        // Only what changed: the event then names just that.
        const current = await api("GET", path);
        const wanted = { ...values, cron: values.cron.trim() };
        const body = {};
        for (const key of ["cron", "time_zone", "max_concurrent_runs", "missed_run_policy", "description"]) {
          if (wanted[key] !== undefined && wanted[key] !== current[key]) body[key] = wanted[key];
        }
        if (!Object.keys(body).length) {
          flash("Nothing to change.");
          return;
        }
        await api("PATCH", path, body);
        flash("Schedule changed: its next due time is worked out again from now.");
        await refresh();
      },
      { label: "Save changes", id: "change-schedule" },
    );
  }

  clear(main, head, h("h2", {}, "Runs"), runs, h("h2", {}, "Change when it runs"), change, h("h2", {}, "Events"), events);
  const s = await refresh();
  // Drawn once: a live redraw would wipe what is being typed.
  clear(change, changeForm(s));
  live(refresh, 5);
}
