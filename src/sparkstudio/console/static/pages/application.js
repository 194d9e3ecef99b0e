// One serverless application: its facts, state with reason (live), start / stop, workers
// running against its maximum; its job runs (live); a form to submit a job; what each run
// used (vCPU-hours, memory-GB-hours); its events.

import { ApiError, all, api, badge, button, clear, duration, form, goTo, h, link, live, studioLocations, table, when } from "../lib.js";
import { capacityText, reasonText, startStop, timeline } from "./applications.js";

export const RUN_ENDED = new Set(["SUCCESS", "FAILED", "CANCELLED"]);

/** How long a run ran: its attempts' total once ended, the time since it started while running. */
export function runDuration(run) {
  if (run.running_seconds) return duration(run.running_seconds);
  if (run.started_at && !run.ended_at) return duration((Date.now() - Date.parse(run.started_at)) / 1000);
  return "—";
}

function capacityFacts(a) {
  const rows = [];
  for (const [type, config] of Object.entries(a.initial_capacity || {})) {
    const c = config.worker_configuration;
    rows.push([`Initial ${type.toLowerCase()}`, `${config.worker_count} × ${c.cpu}, ${c.memory}${c.disk ? `, ${c.disk}` : ""}`]);
  }
  const m = a.maximum_capacity;
  rows.push(["Maximum capacity", m ? `${m.cpu}, ${m.memory}${m.disk ? `, ${m.disk}` : ""}` : "the initial capacity"]);
  return rows;
}

function facts(a) {
  const rows = [
    ["Id", h("code", {}, a.id)],
    ["Release", `${a.release_label}${a.spark_version ? ` (Spark ${a.spark_version})` : ""}`],
    ["Workers", h("span", { id: "application-workers" }, capacityText(a), ` (at least ${a.workers.min} while started)`)],
    ...capacityFacts(a),
    ["Auto-start", a.auto_start_configuration.enabled ? "on: a submitted job starts it" : "off: start it before submitting"],
    ["Auto-stop", a.auto_stop_configuration.enabled ? `after ${a.auto_stop_configuration.idle_timeout_minutes} idle minutes` : "off"],
    ["Runs at once", `${a.scheduler_configuration.max_concurrent_runs} (queued up to ${a.scheduler_configuration.queue_timeout_minutes} min)`],
    ["Network", a.network],
    ["Created", h("span", {}, when(a.created_at), ` by ${a.created_by}`)],
    ["Started", when(a.started_at) || "—"],
    ["Stopped", when(a.stopped_at) || "—"],
    ["Tags", Object.entries(a.tags).map(([k, v]) => `${k}=${v}`).join(", ") || "—"],
  ];
  return h("dl", { class: "facts" }, rows.map(([dt, dd]) => [h("dt", {}, dt), h("dd", {}, dd)]));
}

export async function render(ctx) {
  const { main, studio, params } = ctx;
  const base = `/studios/${studio.id}`;
  const path = `${base}/applications/${encodeURIComponent(params.application)}`;
  const page = `/console/studios/${studio.id}/serverless/${encodeURIComponent(params.application)}`;
  const head = h("div", { id: "application-head" });
  const runs = h("div", { id: "job-run-list" });
  const usage = h("div", { id: "application-usage" });
  const events = h("div", { id: "application-events" });

  async function refresh() {
    const [a, jobRuns, history] = await Promise.all([api("GET", path), all(`${path}/job-runs`), all(`${path}/events`)]);
    drawHead(a);
    drawRuns(jobRuns.reverse());
    clear(events, timeline(history, { id: "application-timeline" }));
    return { a, jobRuns };
  }

  function drawHead(a) {
    const actions = [startStop(a, base, refresh)];
    if (a.status === "CREATED" || a.status === "STOPPED") {
      actions.push(button("Delete", async () => {
        await api("DELETE", path);
        goTo(`/console/studios/${studio.id}/serverless`, `Application ${a.name} is deleted.`);
      }, { kind: "danger", confirmText: `Delete application ${a.name}? Its runs stay listed.`, id: "delete-application" }));
    }
    clear(
      head,
      h("h1", {}, `Application ${a.name}`),
      h("p", { id: "application-state" }, badge(a.status), " ", reasonText(a.status_reason)),
      h("div", { class: "row-actions start" }, actions),
      facts(a),
    );
  }

  function drawRuns(jobRuns) {
    clear(
      runs,
      table(
        [
          ["Run", (r) => link(`${page}/runs/${r.id}`, r.name || r.id, { "data-run": r.id })],
          ["State", (r) => badge(r.status)],
          ["Runtime", (r) => r.runtime || "—"],
          ["Created", (r) => when(r.created_at)],
          ["Duration", (r) => runDuration(r)],
          ["By", (r) => r.created_by],
        ],
        jobRuns,
        { id: "job-runs", empty: "No job runs yet: submit one below." },
      ),
    );
  }

  async function drawUsage(jobRuns) {
    let report;
    try {
      report = await api("GET", `${base}/applications/usage?group_by=job_run`);
    } catch (error) {
      if (error instanceof ApiError && error.status === 403) {
        clear(usage, h("p", { class: "empty" }, "Only those who may see the studio's usage see what the runs used."));
        return;
      }
      throw error;
    }
    const names = new Map(jobRuns.map((r) => [r.id, r.name || r.id]));
    const rows = report.rows.filter((row) => names.has(row.key)).map((row) => ({ ...row, id: row.key }));
    const sum = (pick) => rows.reduce((total, row) => total + pick(row), 0);
    const num = (value) => h("span", { class: "num" }, value.toFixed(4));
    clear(
      usage,
      h("p", { class: "help" }, "Runs submitted in the last 30 days, metered for the workers they held while they ran; billed as EMR Serverless bills (each worker at least a minute)."),
      table(
        [
          ["Run", (row) => link(`${page}/runs/${row.key}`, names.get(row.key))],
          ["vCPU-hours", (row) => num(row.total_resource_utilization.vcpu_hours)],
          ["Memory GB-hours", (row) => num(row.total_resource_utilization.memory_gb_hours)],
          ["Billed vCPU-hours", (row) => num(row.billed_resource_utilization.vcpu_hours)],
          ["Billed memory GB-hours", (row) => num(row.billed_resource_utilization.memory_gb_hours)],
          ["Ran", (row) => duration(row.execution_seconds)],
          ["Queued", (row) => duration(row.queued_seconds)],
        ],
        rows,
        { id: "run-usage", empty: "No run of this application was metered in the last 30 days." },
      ),
      rows.length
        ? h("p", { id: "usage-total" }, h("strong", {}, "Total: "),
            `${sum((r) => r.total_resource_utilization.vcpu_hours).toFixed(4)} vCPU-hours, `,
            `${sum((r) => r.total_resource_utilization.memory_gb_hours).toFixed(4)} memory GB-hours over ${rows.length} runs.`)
        : null,
    );
  }

  const places = studioLocations(studio);
  const submit = form(
    [
      { name: "name", label: "Run name", placeholder: "daily-report", help: "Optional." },
      { name: "job_driver.spark_submit.entry_point", label: "Entry point", required: true, placeholder: `${places[0]}/jobs/daily.py`,
        help: `A .py script or a .jar in the studio's storage: under ${places.join(" or ")}.` },
      { name: "job_driver.spark_submit.entry_point_arguments", label: "Arguments", type: "textarea", rows: 3, placeholder: "one argument per line",
        help: "One argument per line, given to the entry point in order." },
      { name: "job_driver.spark_submit.spark_submit_parameters", label: "spark-submit parameters", placeholder: "--conf spark.sql.shuffle.partitions=8",
        help: "--conf k=v, --class, --driver-memory, --executor-memory, --jars, --py-files, …" },
      { name: "retry_policy.max_attempts", label: "Attempts at most", type: "number", min: 1, max: 10, value: 1 },
      { name: "execution_timeout_minutes", label: "Cancel after running (minutes)", type: "number", min: 0, max: 1000000, value: 720, help: "0: never." },
    ],
    async (values) => {
      const lines = values["job_driver.spark_submit.entry_point_arguments"].split("\n").map((s) => s.trim()).filter(Boolean);
      const body = {
        job_driver: {
          spark_submit: {
            entry_point: values["job_driver.spark_submit.entry_point"].trim(),
            entry_point_arguments: lines,
            spark_submit_parameters: values["job_driver.spark_submit.spark_submit_parameters"].trim(),
          },
        },
        retry_policy: { max_attempts: values["retry_policy.max_attempts"] ?? 1 },
      };
      if (values.name.trim()) body.name = values.name.trim();
      if (values.execution_timeout_minutes !== undefined) body.execution_timeout_minutes = values.execution_timeout_minutes;
      const run = await api("POST", `${path}/job-runs`, body);
      goTo(`${page}/runs/${run.id}`, `Job run ${run.name || run.id} is submitted.`);
    },
    { label: "Submit job", id: "submit-job" },
  );

  clear(
    main,
    head,
    h("h2", {}, "Job runs"),
    runs,
    h("h2", {}, "Submit a job"),
    submit,
    h("h2", {}, "What its runs used"),
    usage,
    h("h2", {}, "Events"),
    events,
  );
  const { jobRuns } = await refresh();
  await drawUsage(jobRuns);
  let ticks = 0;
  live(async () => {
    const latest = await refresh();
    // Usage only changes when a run ends: redraw it now and then, not every tick.
    if (++ticks % 5 === 0) await drawUsage(latest.jobRuns);
  }, 2);
}
