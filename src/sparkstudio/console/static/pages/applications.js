// Serverless applications of a studio: state, release, capacity now and at most, auto
// start/stop; start and stop; create one. The list follows state changes live while an
// application starts or stops. Also the small helpers the other serverless pages share.

import { all, api, badge, button, clear, flash, form, h, link, live, table, when } from "../lib.js";

/** Events (oldest first) as a timeline: when, from → to, reason, who. */
export function timeline(events, { id, empty = "No events yet." } = {}) {
  if (!events.length) return h("p", { class: "empty", id }, empty);
  return h(
    "ol",
    { class: "timeline", id },
    events.map((e) =>
      h(
        "li",
        {},
        h("span", { class: "when" }, when(e.created_at)),
        e.from_status ? `${e.from_status} → ` : "",
        badge(e.to_status),
        " ",
        e.reason && e.reason.code ? h("code", {}, e.reason.code) : "",
        e.reason && e.reason.message ? ` ${e.reason.message}` : "",
        e.actor ? h("span", { class: "help" }, `by ${e.actor}`) : "",
      ),
    ),
  );
}

/** "4 of at most 6 workers running", from the API's workers {min, max, running}. */
export function capacityText(a) {
  const w = a.workers || { running: 0, max: 0, min: 0 };
  return `${w.running} running / ${w.max} max`;
}

/** The facts of a status reason: its message, with the code for those who search logs. */
export function reasonText(reason) {
  if (!reason || (!reason.code && !reason.message)) return "";
  return h("span", { class: "reason" }, reason.code ? h("code", {}, reason.code) : "", " ", reason.message || "");
}

/** Start or stop, depending on the state; nothing while it is changing. */
export function startStop(a, base, after) {
  const path = `${base}/applications/${a.id}`;
  if (a.status === "CREATED" || a.status === "STOPPED") {
    return button("Start", async () => {
      await api("POST", `${path}/start`);
      flash(`Application ${a.name} is starting.`);
      await after();
    }, { kind: "primary", id: `start-${a.name}` });
  }
  if (a.status === "STARTED" || a.status === "STARTING") {
    return button("Stop", async () => {
      await api("POST", `${path}/stop`);
      flash(`Application ${a.name} is stopping.`);
      await after();
    }, { confirmText: `Stop application ${a.name}? Runs in progress on it fail.`, id: `stop-${a.name}` });
  }
  return null;
}

function onOff(enabled, extra) {
  return enabled ? `on${extra ? ` (${extra})` : ""}` : "off";
}

export async function render(ctx) {
  const { main, studio } = ctx;
  const base = `/studios/${studio.id}`;
  const page = `/console/studios/${studio.id}/serverless`;
  const list = h("div", { id: "application-list" });
  const creating = h("div", { id: "application-create" });
  const showEnded = ctx.query.get("ended") === "true";
  let labels = [];

  async function refresh() {
    const applications = await all(`${base}/applications`);
    const shown = applications.filter((a) => showEnded || a.status !== "TERMINATED");
    clear(
      list,
      table(
        [
          ["Name", (a) => link(`${page}/${a.id}`, a.name, { "data-application": a.name })],
          ["State", (a) => h("span", {}, badge(a.status), " ", a.status_reason.message ? h("small", { class: "help" }, a.status_reason.message) : "")],
          ["Release", (a) => a.release_label],
          ["Workers", (a) => capacityText(a)],
          ["Auto-start", (a) => onOff(a.auto_start_configuration.enabled)],
          ["Auto-stop", (a) => onOff(a.auto_stop_configuration.enabled, `${a.auto_stop_configuration.idle_timeout_minutes} min idle`)],
          ["Created", (a) => when(a.created_at)],
          ["", (a) => h("div", { class: "row-actions" }, startStop(a, base, refresh))],
        ],
        shown,
        { id: "applications", empty: "No serverless applications yet: create one below." },
      ),
      applications.some((a) => a.status === "TERMINATED")
        ? link(showEnded ? page : `${page}?ended=true`, showEnded ? "Hide deleted applications" : "Show deleted applications")
        : null,
    );
    return applications;
  }

  function drawCreate(values) {
    clear(creating, createForm(values));
  }

  function createForm(values) {
    const v = (name, fallback) => (values[name] !== undefined ? values[name] : fallback);
    const releaseSpec = labels.length
      ? { name: "release_label", label: "Release", type: "select", choices: labels, value: v("release_label", labels[0]),
          help: "The Spark the application runs." }
      : { name: "release_label", label: "Release", value: v("release_label", ""), required: true,
          help: "No Spark is installed on this host: applications cannot start here." };
    const specs = [
      { name: "name", label: "Name", required: true, value: v("name", ""), help: "Letters, digits, '.', '_' and '-'; unique in the studio." },
      releaseSpec,
      { name: "initial_capacity.EXECUTOR.worker_count", label: "Warm executor workers", type: "number", min: 0, max: 64, value: v("initial_capacity.EXECUTOR.worker_count", 1) },
      { name: "initial_capacity.EXECUTOR.worker_configuration.cpu", label: "Executor CPU", value: v("initial_capacity.EXECUTOR.worker_configuration.cpu", "1 vCPU") },
      { name: "initial_capacity.EXECUTOR.worker_configuration.memory", label: "Executor memory", value: v("initial_capacity.EXECUTOR.worker_configuration.memory", "1 GB") },
      { name: "initial_capacity.DRIVER.worker_configuration.cpu", label: "Driver CPU", value: v("initial_capacity.DRIVER.worker_configuration.cpu", "1 vCPU") },
      { name: "initial_capacity.DRIVER.worker_configuration.memory", label: "Driver memory", value: v("initial_capacity.DRIVER.worker_configuration.memory", "1 GB") },
      { name: "maximum_capacity.cpu", label: "Maximum CPU (all workers)", value: v("maximum_capacity.cpu", "4 vCPU"), help: "Leave both maximums empty to stay at the initial capacity." },
      { name: "maximum_capacity.memory", label: "Maximum memory (all workers)", value: v("maximum_capacity.memory", "8 GB") },
      { name: "auto_start_configuration.enabled", label: "Start by itself when a job is submitted", type: "checkbox", value: v("auto_start_configuration.enabled", true) },
      { name: "auto_stop_configuration.enabled", label: "Stop by itself when idle", type: "checkbox", value: v("auto_stop_configuration.enabled", true) },
      { name: "auto_stop_configuration.idle_timeout_minutes", label: "Idle minutes before it stops", type: "number", min: 1, max: 10080, value: v("auto_stop_configuration.idle_timeout_minutes", 15) },
    ];
    return form(specs, async (values) => submitCreate(values), { label: "Create application", id: "new-application" });
  }

  async function submitCreate(values) {
    const created = await api("POST", `${base}/applications`, createBody(values));
    flash(`Application ${created.name} is created.`);
    drawCreate({});
    await refresh();
  }

  clear(
    main,
    h("h1", {}, "Serverless applications"),
    h("p", { class: "help" }, "An application keeps warm Spark capacity for job runs and notebook runs: started, it holds a driver and its executor workers; stopped, nothing runs."),
    list,
    h("h2", {}, "New application"),
    creating,
  );
  labels = (await api("GET", "/release-labels")).map((r) => r.release_label);
  drawCreate({});
  await refresh();
  live(refresh, 3);
}

/** The form's values as an ApplicationCreate body, EMR Serverless's nesting. */
function createBody(values) {
  const worker = (type) => ({
    worker_count: type === "DRIVER" ? 1 : values[`initial_capacity.${type}.worker_count`] ?? 1,
    worker_configuration: {
      cpu: values[`initial_capacity.${type}.worker_configuration.cpu`],
      memory: values[`initial_capacity.${type}.worker_configuration.memory`],
    },
  });
  const body = {
    name: values.name,
    release_label: values.release_label,
    initial_capacity: { DRIVER: worker("DRIVER"), EXECUTOR: worker("EXECUTOR") },
    auto_start_configuration: { enabled: values["auto_start_configuration.enabled"] },
    auto_stop_configuration: { enabled: values["auto_stop_configuration.enabled"] },
  };
  if (values["auto_stop_configuration.idle_timeout_minutes"] !== undefined) {
    body.auto_stop_configuration.idle_timeout_minutes = values["auto_stop_configuration.idle_timeout_minutes"];
  }
  if (values["maximum_capacity.cpu"] || values["maximum_capacity.memory"]) {
    body.maximum_capacity = { cpu: values["maximum_capacity.cpu"], memory: values["maximum_capacity.memory"] };
  }
  return body;
}
