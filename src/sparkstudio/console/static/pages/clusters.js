// Clusters of a studio: state, age, size, idle countdown, template and owner; filter
// active / ended; launch a new one. The list follows state changes live while a cluster
// starts or terminates. The small helpers at the top are shared with the cluster page.

import { all, badge, clear, h, link, live, table } from "../lib.js";

// States a cluster stays in until something happens; the others change on their own.
export const UNSETTLED = new Set(["STARTING", "BOOTSTRAPPING", "TERMINATING"]);
export const ENDED = new Set(["TERMINATED", "TERMINATED_WITH_ERRORS"]);

const FILTERS = [
  ["active", "Active"],
  ["ended", "Ended"],
  ["all", "All"],
];

/** "2 GiB" or "512 MiB". */
export function memoryText(mib) {
  if (mib >= 1024) return `${Math.round((mib / 1024) * 10) / 10} GiB`;
  return `${mib} MiB`;
}

/** Workers now and their bounds, with the cores and memory they hold (when known). */
export function sizeText(c) {
  const w = c.workers;
  const bounds = w.min === w.max ? `pinned at ${w.max}` : `${w.min}–${w.max}`;
  const text = `${plural(w.running, "worker")} now (${bounds})`;
  const cores = c.spec && c.spec.worker_cores;
  const memory = c.spec && c.spec.worker_memory_mib;
  if (!cores || !memory || !w.running) return text;
  return `${text} · ${plural(w.running * cores, "core")}, ${memoryText(w.running * memory)}`;
}

export function plural(count, word) {
  return `${count} ${word}${count === 1 ? "" : "s"}`;
}

/** When an idle (WAITING) cluster stops by itself: last activity + idle timeout; else null. */
export function stopsAt(c) {
  if (c.status !== "WAITING" || !c.idle_timeout_seconds || !c.last_activity_at) return null;
  return new Date(new Date(c.last_activity_at).getTime() + c.idle_timeout_seconds * 1000);
}

/** "stops at 14:05 (in 58 min)", with the date when it is not today. */
export function stopsAtText(date) {
  const now = new Date();
  const time = date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  const day = date.toDateString() === now.toDateString() ? "" : `${date.toLocaleDateString()} `;
  const left = Math.max(0, Math.round((date - now) / 60000));
  return `stops at ${day}${time} (in ${left < 1 ? "less than a minute" : `${left} min`})`;
}

/** Age since created, or how long it ran once it ended ("ran 2 min" with `said`). */
export function ageText(c, said = true) {
  const end = c.ended_at ? new Date(c.ended_at) : new Date();
  const seconds = (end - new Date(c.created_at)) / 1000;
  return h("span", { title: `created ${new Date(c.created_at).toLocaleString()}` },
    c.ended_at && said ? `ran ${duration(seconds)}` : duration(seconds));
}

// duration() of lib.js, without seconds once it is over an hour (a list wants it short).
function duration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s >= 86400) return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
  if (s >= 3600) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  if (s >= 60) return `${Math.floor(s / 60)} min`;
  return `${s} s`;
}

export function templateText(c) {
  return c.template ? `${c.template.name} v${c.template.version}` : c.backend === "external" ? "external" : "raw spec";
}

export function idleText(c) {
  const date = stopsAt(c);
  if (date) return stopsAtText(date);
  if (ENDED.has(c.status)) return "—";
  if (!c.idle_timeout_seconds) return "never stops by itself";
  return `after ${duration(c.idle_timeout_seconds)} idle`;
}

function filterNav(current) {
  return h(
    "nav",
    { class: "cluster-filter", "aria-label": "Show" },
    FILTERS.map(([key, text]) =>
      link(`?show=${key}`, text, { class: key === current ? "current" : null, "aria-current": key === current ? "page" : null, id: `show-${key}` }),
    ),
  );
}

export async function render(ctx) {
  const { main, studio } = ctx;
  const base = `/studios/${studio.id}`;
  const pages = `/console/studios/${studio.id}/clusters`;
  const show = FILTERS.some(([key]) => key === ctx.query.get("show")) ? ctx.query.get("show") : "active";
  const list = h("div", { id: "cluster-list" });
  let lastFetch = 0;
  let busy = false;

  async function refresh() {
    const params = show === "all" ? {} : { active: show === "active" ? "true" : "false" };
    const clusters = await all(`${base}/clusters`, params);
    clusters.sort((a, b) => b.created_at.localeCompare(a.created_at));
    lastFetch = Date.now();
    busy = clusters.some((c) => UNSETTLED.has(c.status));
    clear(
      list,
      table(
        [
          ["Name", (c) => link(`${pages}/${c.id}`, c.name, { "data-cluster": c.name })],
          ["State", (c) => h("span", { title: c.status_reason.message || "" }, badge(c.status))],
          ["Age", ageText],
          ["Size", sizeText],
          ["Idle", idleText],
          ["Template", templateText],
          ["Owner", (c) => c.owner],
        ],
        clusters,
        { id: "clusters", empty: emptyText(show) },
      ),
    );
  }

  // Every 2 s while a cluster starts or terminates; otherwise every 20 s, which is enough
  // to see RUNNING ↔ WAITING and keep the ages and countdowns current.
  async function tick() {
    if (busy || Date.now() - lastFetch > 20000) await refresh();
  }

  clear(
    main,
    h("div", { class: "page-head" },
      h("h1", {}, "Clusters"),
      link(`${pages}/new`, "Launch a cluster", { class: "button primary", id: "launch" })),
    filterNav(show),
    list,
  );
  await refresh();
  live(tick, 2);
}

function emptyText(show) {
  if (show === "ended") return "No cluster of this studio has ended yet.";
  if (show === "all") return "This studio has no clusters yet: launch one from a template.";
  return "No cluster is running in this studio: launch one from a template.";
}
