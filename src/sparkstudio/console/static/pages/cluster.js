// One cluster: its state with the reason, facts (template, owner, age, size, idle timeout
// and when it stops by itself, Connect URL without the token), its Spark UI and history
// server pages, the scaling bounds, terminate, and the event timeline. The page follows
// the cluster live, every 2 s while it starts or terminates.

import { ApiError, all, api, badge, button, clear, flash, form, h, link, live, when } from "../lib.js";
import { ENDED, UNSETTLED, ageText, idleText, memoryText, plural, sizeText, templateText } from "./clusters.js";

export async function render(ctx) {
  const { main, studio } = ctx;
  const path = `/studios/${studio.id}/clusters/${encodeURIComponent(ctx.params.cluster)}`;
  const state = h("div", { id: "cluster-state" });
  const facts = h("div", { id: "cluster-facts" });
  const scaling = h("div", { id: "cluster-scaling" });
  const timeline = h("div", { id: "cluster-events" });
  const title = h("h1", {}, "Cluster");
  let cluster = null;
  let lastFetch = 0;
  let scalingShownFor = null; // the form is built once per state family, so typing survives refreshes

  async function refresh() {
    const [c, events] = await Promise.all([api("GET", path), all(`${path}/events`)]);
    cluster = c;
    lastFetch = Date.now();
    document.title = `${c.name} · Clusters · sparkstudio`;
    clear(title, `Cluster ${c.name}`);
    clear(state, stateLine(c), actions(c));
    clear(facts, factList(c));
    clear(timeline, eventList(events));
    const scalable = !ENDED.has(c.status) && c.target !== "TERMINATED" && c.backend !== "external";
    if (String(scalable) !== scalingShownFor) {
      scalingShownFor = String(scalable);
      clear(scaling, scalable ? scalingForm(c) : null);
    }
  }

  function actions(c) {
    const row = [];
    if (c.ui_path && !ENDED.has(c.status)) {
      row.push(link(c.ui_path, "Spark UI", { class: "button primary", target: "_blank", rel: "noopener", id: "spark-ui" }));
    }
    if (c.history_path) {
      row.push(link(c.history_path, "History server", { class: "button", target: "_blank", rel: "noopener", id: "spark-history" }));
    }
    if (!ENDED.has(c.status) && c.target !== "TERMINATED") {
      row.push(button("Terminate", async () => {
        await api("DELETE", path);
        flash(`Cluster ${c.name} is terminating.`);
        await refresh();
      }, { kind: "danger", id: "terminate", confirmText: `Terminate cluster ${c.name}? Every process of it stops; running work is lost.` }));
    }
    return h("div", { class: "row-actions cluster-actions" }, row);
  }

  function scalingForm(c) {
    const most = (c.spec && c.spec.workers_max) || c.workers.max;
    return [
      h("h2", {}, "Scaling"),
      h("p", { class: "help" }, `Managed scaling keeps between the minimum and the maximum of workers; equal bounds pin the size. The template allows at most ${most}.`),
      form(
        [
          { name: "workers_min", label: "Minimum workers", type: "number", value: c.workers.min, min: 0, max: most, step: 1 },
          { name: "workers_max", label: "Maximum workers", type: "number", value: c.workers.max, min: 1, max: most, step: 1 },
        ],
        async (values) => {
          const updated = await api("PUT", `${path}/scaling`, { workers_min: values.workers_min, workers_max: values.workers_max });
          flash(`Cluster ${updated.name} now scales between ${updated.workers.min} and ${updated.workers.max} workers.`);
          await refresh();
        },
        { label: "Set bounds", id: "scaling" },
      ),
    ];
  }

  // Every 2 s while the cluster starts or terminates; every 15 s while it is up (to see
  // RUNNING ↔ WAITING, scaling and the countdown); not at all once it has ended.
  async function tick() {
    if (!cluster || UNSETTLED.has(cluster.status) || (cluster.target === "TERMINATED" && !ENDED.has(cluster.status))) {
      await refresh();
    } else if (!ENDED.has(cluster.status) && Date.now() - lastFetch > 15000) {
      await refresh();
    }
  }

  clear(
    main,
    h("p", {}, link(`/console/studios/${studio.id}/clusters`, "← Clusters")),
    title,
    state,
    facts,
    scaling,
    h("h2", {}, "Events"),
    timeline,
  );
  try {
    await refresh();
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 404)) throw error;
    clear(main, h("h1", {}, "No such cluster"), h("p", { class: "empty", id: "no-cluster" }, error.message),
      link(`/console/studios/${studio.id}/clusters`, "Back to the studio's clusters"));
    return;
  }
  live(tick, 2);
}

function stateLine(c) {
  const reason = c.status_reason || {};
  return h(
    "p",
    { class: "cluster-status" },
    badge(c.status),
    reason.code ? h("code", { class: "reason" }, reason.code) : null,
    reason.message ? ` ${reason.message}` : "",
    c.target === "TERMINATED" && !ENDED.has(c.status) ? h("span", { class: "help" }, "Termination requested.") : null,
  );
}

function factList(c) {
  const spec = c.spec || {};
  const rows = [
    ["Template", templateText(c)],
    ["Owner", c.owner],
    ["Created", when(c.created_at)],
    [c.ended_at ? "Ran for" : "Age", ageText(c, false)],
    c.ready_at ? ["Ready", when(c.ready_at)] : null,
    c.ended_at ? ["Ended", when(c.ended_at)] : null,
    ["Workers", sizeText(c)],
    spec.worker_cores ? ["Each worker", `${plural(spec.worker_cores, "core")}, ${memoryText(spec.worker_memory_mib)}`] : null,
    spec.executor_cores ? ["Each executor", `${plural(spec.executor_cores, "core")}, ${memoryText(spec.executor_memory_mib)}`] : null,
    spec.capacity_type ? ["Capacity", spec.capacity_type] : null,
    ["Idle timeout", c.idle_timeout_seconds ? `${Math.round(c.idle_timeout_seconds / 60)} min` : "none"],
    ["Stops by itself", h("span", { id: "stops-at" }, idleText(c))],
    ["Last activity", when(c.last_activity_at)],
    ["Network", c.network],
    ENDED.has(c.status) ? null
      : ["Connect URL", c.connect_url ? h("code", { id: "connect-url" }, c.connect_url) : "not yet: the cluster is starting"],
    c.connect_url && !ENDED.has(c.status)
      ? ["", h("small", { class: "help" }, "Clients also need the cluster's token: ", h("code", {}, `sparkstudio cluster connect ${c.name}`), " prints the full URL.")]
      : null,
    Object.keys(c.parameters || {}).length ? ["Parameters", keyValues(c.parameters)] : null,
    Object.keys(c.tags || {}).length ? ["Tags", keyValues(c.tags)] : null,
    ["Id", h("code", {}, c.id)],
  ].filter(Boolean);
  return h("dl", { class: "facts" }, rows.map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]));
}

function keyValues(map) {
  return h("span", { class: "key-values" }, Object.entries(map).map(([key, value]) => h("code", {}, `${key}=${value}`)));
}

function eventList(events) {
  if (!events.length) return h("p", { class: "empty" }, "No events yet.");
  // Newest first: what just happened is at the top.
  return h(
    "ol",
    { class: "timeline", id: "events" },
    [...events].reverse().map((e) =>
      h(
        "li",
        { dataset: { status: e.to_status } },
        h("span", { class: "when" }, when(e.created_at)),
        e.from_status && e.from_status !== e.to_status ? [e.from_status, " → "] : null,
        badge(e.to_status),
        " ",
        h("code", { class: "reason" }, e.reason.code),
        e.reason.message ? ` ${e.reason.message}` : "",
        e.actor && !(e.reason.message || "").includes(e.actor) ? h("span", { class: "help" }, `by ${e.actor}`) : null,
      ),
    ),
  );
}
