// One job run: its state (live until it ends) with the reason, where it runs (CONNECT or
// CLASSIC) and why, its attempts, the driver's stdout / stderr (refreshed while it runs),
// its Spark UI, cancel, and its events.

import { ApiError, all, api, badge, button, clear, duration, flash, h, link, live, table, when } from "../lib.js";
import { reasonText, timeline } from "./applications.js";
import { RUN_ENDED, runDuration } from "./application.js";

/** An argument as a shell would need it: quoted when it has spaces or quotes. */
function quoted(arg) {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`;
}

function facts(run, application, appPage) {
  const s = run.job_driver.spark_submit;
  const used = run.total_resource_utilization;
  const rows = [
    ["Id", h("code", {}, run.id)],
    ["Application", link(appPage, application.name)],
    ["Entry point", h("code", { id: "run-entry-point" }, s.entry_point)],
    ["Arguments", s.entry_point_arguments.length ? h("code", { id: "run-arguments" }, s.entry_point_arguments.map(quoted).join(" ")) : "—"],
    ["spark-submit parameters", s.spark_submit_parameters ? h("code", {}, s.spark_submit_parameters) : "—"],
    ["Runtime", h("span", { id: "run-runtime" }, h("strong", {}, run.runtime || "not chosen yet"), run.runtime_reason ? ` — ${run.runtime_reason}` : "")],
    ["Attempt", `${run.attempt} of at most ${run.retry_policy.max_attempts}`],
    ["Release", run.release_label],
    ["Submitted", h("span", {}, when(run.created_at), ` by ${run.created_by}`)],
    ["Started", when(run.started_at) || "—"],
    ["Ended", when(run.ended_at) || "—"],
    ["Queued", duration(run.queued_seconds)],
    ["Ran", runDuration(run)],
    ["Used", `${used.vcpu_hours.toFixed(4)} vCPU-hours, ${used.memory_gb_hours.toFixed(4)} memory GB-hours`],
    ["Timeout", run.execution_timeout_minutes ? `${run.execution_timeout_minutes} min` : "none"],
    ["Logs kept at", h("code", {}, run.log_uri)],
    ["Tags", Object.entries(run.tags).map(([k, v]) => `${k}=${v}`).join(", ") || "—"],
  ];
  return h("dl", { class: "facts" }, rows.map(([dt, dd]) => [h("dt", {}, dt), h("dd", {}, dd)]));
}

export async function render(ctx) {
  const { main, studio, params } = ctx;
  const appPath = `/studios/${studio.id}/applications/${encodeURIComponent(params.application)}`;
  const path = `${appPath}/job-runs/${encodeURIComponent(params.run)}`;
  const appPage = `/console/studios/${studio.id}/serverless/${encodeURIComponent(params.application)}`;
  const head = h("div", { id: "run-head" });
  const attempts = h("div", { id: "run-attempts" });
  const stdout = h("pre", { id: "run-stdout", class: "log" });
  const stderr = h("pre", { id: "run-stderr", class: "log" });
  const dashboard = h("div", { id: "run-dashboard" });
  const events = h("div", { id: "run-events" });
  const application = await api("GET", appPath);
  let stop = () => {};

  async function refresh() {
    const [run, tries, history] = await Promise.all([api("GET", path), all(`${path}/attempts`), all(`${path}/events`)]);
    drawHead(run);
    drawAttempts(tries);
    clear(events, timeline(history, { id: "run-timeline" }));
    await Promise.all([readLog("stdout", stdout), readLog("stderr", stderr), drawDashboard(run)]);
    // An ended run changes no more: stop following it.
    if (RUN_ENDED.has(run.status)) stop();
    return run;
  }

  function drawHead(run) {
    const ended = RUN_ENDED.has(run.status);
    clear(
      head,
      h("p", {}, link(appPage, `← Application ${application.name}`)),
      h("h1", {}, `Job run ${run.name || run.id}`),
      h("p", { id: "run-state" }, badge(run.status), " ", reasonText(run.status_reason)),
      ended || run.status === "CANCELLING"
        ? null
        : h("div", { class: "row-actions start" }, button("Cancel run", async () => {
            await api("POST", `${path}/cancel`);
            flash(`Job run ${run.name || run.id} is being cancelled.`);
            await refresh();
          }, { kind: "danger", confirmText: "Cancel this job run?", id: "cancel-run" })),
      facts(run, application, appPage),
    );
  }

  function drawAttempts(tries) {
    clear(
      attempts,
      table(
        [
          ["Attempt", (t) => String(t.attempt)],
          ["State", (t) => badge(t.status)],
          ["Reason", (t) => reasonText(t.status_reason)],
          ["Started", (t) => when(t.started_at) || "—"],
          ["Ended", (t) => when(t.ended_at) || "—"],
          ["Logs", (t) => h("code", {}, t.log_uri)],
        ],
        tries,
        { id: "attempts", empty: "No attempt has started yet." },
      ),
    );
  }

  async function readLog(stream, node) {
    try {
      const text = (await api("GET", `${path}/logs?stream=${stream}`)).message;
      node.textContent = text || `(no ${stream} yet)`;
    } catch (error) {
      node.textContent = `(no ${stream}: ${error.message})`;
    }
  }

  async function drawDashboard(run) {
    if (dashboard.dataset.url && RUN_ENDED.has(run.status) && dashboard.dataset.ended) return;
    try {
      const { url } = await api("GET", `${path}/dashboard`);
      dashboard.dataset.url = url;
      if (RUN_ENDED.has(run.status)) dashboard.dataset.ended = "yes";
      clear(dashboard, link(url, RUN_ENDED.has(run.status) ? "Open its Spark history" : "Open the live Spark UI",
        { class: "button", target: "_blank", rel: "noopener", id: "run-dashboard-link" }));
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 409) throw error;
      clear(dashboard, h("p", { class: "empty" }, error.message));
    }
  }

  clear(
    main,
    head,
    h("h2", {}, "Spark UI"),
    dashboard,
    h("h2", {}, "Driver stdout"),
    stdout,
    h("h2", {}, "Driver stderr"),
    stderr,
    h("h2", {}, "Attempts"),
    attempts,
    h("h2", {}, "Events"),
    events,
  );
  const run = await refresh();
  if (!RUN_ENDED.has(run.status)) stop = live(refresh, 2);
}
