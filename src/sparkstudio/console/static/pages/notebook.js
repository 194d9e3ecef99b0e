// One notebook run: its state (live until it ends) with the reason, its notebook, target,
// parameters and the NAMES of its environment variables (never their values), download
// links for the executed notebook and its HTML once written, stop, and its events.

import { all, api, badge, button, clear, flash, h, link, live, when } from "../lib.js";
import { reasonText, timeline } from "./applications.js";
import { EXECUTION_ENDED, namesOf, notebookText, targetLink, targetsOf } from "./notebooks.js";

function facts(e, studioId, names) {
  const rows = [
    ["Id", h("code", {}, e.id)],
    ["Notebook", notebookText(e.notebook, names)],
    ["Runs on", targetLink(studioId, e.target, names)],
    ["Parameters", Object.keys(e.parameters).length ? h("pre", { id: "execution-parameters" }, JSON.stringify(e.parameters, null, 2)) : "—"],
    ["Environment variables", e.environment_variable_names.length
      ? h("span", { id: "execution-env" }, e.environment_variable_names.map((n) => h("code", {}, n)).flatMap((c, i) => (i ? [", ", c] : [c])), h("small", { class: "help" }, "Values are never shown."))
      : "—"],
    ["Started", h("span", {}, when(e.created_at), ` by ${e.created_by}`)],
    ["Running since", when(e.started_at) || "—"],
    ["Ended", when(e.ended_at) || "—"],
    ["Timeout", e.timeout_minutes ? `${e.timeout_minutes} min` : "none"],
    ["Output location", h("code", {}, e.output_location)],
    ["Tags", Object.entries(e.tags).map(([k, v]) => `${k}=${v}`).join(", ") || "—"],
  ];
  if (e.schedule_id) {
    rows.push(["Schedule", h("span", {}, link(`/console/studios/${studioId}/schedules/${e.schedule_id}`, "its schedule"), e.scheduled_for ? [" (due ", when(e.scheduled_for), ")"] : "")]);
  }
  return h("dl", { class: "facts" }, rows.map(([dt, dd]) => [h("dt", {}, dt), h("dd", {}, dd)]));
}

/** Plain links: a GET carries the session cookie, and the API sends the file as an attachment. */
function downloads(e, apiPath) {
  if (!e.output_notebook_uri && !e.output_html_uri) {
    return h("p", { class: "empty" }, EXECUTION_ENDED.has(e.status) ? "This run left no output." : "The executed notebook and its HTML are written when the run ends.");
  }
  return h(
    "div",
    { class: "row-actions start", id: "execution-downloads" },
    e.output_notebook_uri ? link(`/api/v1${apiPath}/output?format=ipynb`, "Download the executed notebook (.ipynb)", { class: "button primary", download: "" }) : null,
    e.output_html_uri ? link(`/api/v1${apiPath}/output?format=html`, "Download its HTML", { class: "button", download: "" }) : null,
  );
}

export async function render(ctx) {
  const { main, studio, params } = ctx;
  const base = `/studios/${studio.id}`;
  const path = `${base}/notebook-executions/${encodeURIComponent(params.execution)}`;
  const head = h("div", { id: "execution-head" });
  const output = h("div", { id: "execution-output" });
  const events = h("div", { id: "execution-events" });
  const names = namesOf(await targetsOf(base));
  let stop = () => {};

  async function refresh() {
    const [e, history] = await Promise.all([api("GET", path), all(`${path}/events`)]);
    const ended = EXECUTION_ENDED.has(e.status);
    clear(
      head,
      h("p", {}, link(`/console/studios/${studio.id}/notebooks`, "← Notebook runs")),
      h("h1", {}, `Notebook run ${e.name || e.id}`),
      h("p", { id: "execution-state" }, badge(e.status), " ", reasonText(e.status_reason)),
      ended || /STOP/.test(e.status)
        ? null
        : h("div", { class: "row-actions start" }, button("Stop run", async () => {
            await api("POST", `${path}/stop`);
            flash("The notebook run is stopping; what ran is kept.");
            await refresh();
          }, { kind: "danger", confirmText: "Stop this notebook run?", id: "stop-execution" })),
      facts(e, studio.id, names),
    );
    clear(output, downloads(e, path));
    clear(events, timeline(history, { id: "execution-timeline" }));
    if (ended) stop();
    return e;
  }

  clear(main, head, h("h2", {}, "Output"), output, h("h2", {}, "Events"), events);
  const e = await refresh();
  if (!EXECUTION_ENDED.has(e.status)) stop = live(refresh, 2);
}
