// Usage of a studio: core-hours and memory-GB-hours of its clusters, and what its
// serverless job runs used, over a period and grouped by cluster, template, owner or tag.
// Charts first (per group, and over time), then the same numbers as tables and CSV.
//
// The usage APIs answer totals for one window (since/until), not a series: the page asks
// for each hour (last 24 h) or day (7 or 30 days) in parallel to draw the series.

import { all, api, button, clear, downloadCsv, h, link } from "../lib.js";

const PERIODS = [
  ["24h", "Last 24 hours", 24, "hour"],
  ["7d", "Last 7 days", 7, "day"],
  ["30d", "Last 30 days", 30, "day"],
];
const TOP = 7; // groups drawn in their own color; the rest are summed as "other"

export async function render(ctx) {
  const { main, studio, query } = ctx;
  const base = `/studios/${studio.id}`;
  const period = PERIODS.find(([key]) => key === query.get("period")) || PERIODS[1];
  const by = query.get("by") || "cluster";
  clear(main, h("h1", {}, `Usage of ${studio.name}`), h("p", { class: "loading" }, "Adding up usage…"));

  const [clusters, applications] = await Promise.all([all(`${base}/clusters`), all(`${base}/applications`)]);
  const buckets = bucketsOf(period);
  const since = buckets[0].since;
  const until = buckets[buckets.length - 1].until;
  const appBy = serverlessGrouping(by);
  const window = (path, groupBy, b) => api("GET", `${base}/${path}?${new URLSearchParams({ since: b.since.toISOString(), until: b.until.toISOString(), group_by: groupBy })}`);
  const [clusterTotal, appTotal, clusterSeries, appSeries] = await Promise.all([
    window("usage", by, { since, until }),
    window("applications/usage", appBy, { since, until }),
    Promise.all(buckets.map((b) => window("usage", by, b))),
    Promise.all(buckets.map((b) => window("applications/usage", appBy, b))),
  ]);

  const names = nameOf(by, clusters);
  clear(
    main,
    h("h1", {}, `Usage of ${studio.name}`),
    pickers(period[0], by, tagKeys(clusters, applications)),
    summary(clusterTotal, appTotal, period[1]),
    clusterSection(clusterTotal, clusterSeries, buckets, period, by, names, studio),
    serverlessSection(appTotal, appSeries, buckets, period, appBy, studio),
  );
}

// ---------------------------------------------------------------- periods and grouping

/** Consecutive hours or days ending now, each aligned to the start of its hour or day. */
function bucketsOf([, , count, unit]) {
  const now = new Date();
  const start = new Date(now);
  if (unit === "hour") start.setMinutes(0, 0, 0);
  else start.setHours(0, 0, 0, 0);
  const buckets = [];
  for (let i = count - 1; i >= 0; i--) {
    const from = new Date(start);
    if (unit === "hour") from.setHours(from.getHours() - i);
    else from.setDate(from.getDate() - i);
    const to = new Date(from);
    if (unit === "hour") to.setHours(to.getHours() + 1);
    else to.setDate(to.getDate() + 1);
    buckets.push({ since: from, until: to > now ? new Date(Math.max(now, from.getTime() + 1000)) : to, unit });
  }
  return buckets;
}

const bucketLabel = (b) => (b.unit === "hour"
  ? b.since.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hourCycle: "h23" })
  : b.since.toLocaleDateString([], { month: "short", day: "numeric" }));

const bucketTitle = (b) => (b.unit === "hour"
  ? `${b.since.toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23" })}–${b.until.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hourCycle: "h23" })}`
  : b.since.toLocaleDateString([], { weekday: "short", month: "short", day: "numeric" }));

/** The serverless grouping closest to the clusters' one (job runs have no template). */
function serverlessGrouping(by) {
  if (by.startsWith("tag:")) return by;
  return by === "owner" ? "created_by" : "application";
}

const GROUPINGS = [["cluster", "Cluster"], ["template", "Template"], ["owner", "Owner"]];
const SERVERLESS_HEADING = { application: "application", created_by: "submitter" };

function tagKeys(clusters, applications) {
  const keys = new Set();
  for (const item of [...clusters, ...applications]) for (const key of Object.keys(item.tags || {})) keys.add(key);
  return [...keys].sort();
}

/** Cluster usage is keyed by cluster id: show the cluster's name. */
function nameOf(by, clusters) {
  if (by !== "cluster") return (key) => key;
  const names = new Map(clusters.map((c) => [c.id, c.name]));
  return (key) => names.get(key) || key;
}

function pickers(period, by, tags) {
  const here = (params) => `?${new URLSearchParams({ period, by, ...params })}`;
  const choice = (current, key, text, params) => link(here(params), text, {
    class: `chip${key === current ? " current" : ""}`, "aria-current": key === current ? "page" : null, "data-pick": key });
  return h("div", { class: "pickers" },
    h("nav", { "aria-label": "Period" }, h("span", { class: "label" }, "Period"),
      PERIODS.map(([key, text]) => choice(period, key, text, { period: key }))),
    h("nav", { "aria-label": "Group by" }, h("span", { class: "label" }, "Group by"),
      GROUPINGS.map(([key, text]) => choice(by, key, text, { by: key })),
      tags.map((key) => choice(by, `tag:${key}`, `tag: ${key}`, { by: `tag:${key}` }))));
}

// ---------------------------------------------------------------- sections

const hours = (seconds) => seconds / 3600;

function summary(clusterTotal, appTotal, periodText) {
  const t = clusterTotal.total;
  const a = appTotal.total;
  const panel = (value, label) => h("div", { class: "panel" }, h("div", { class: "value" }, value), h("div", { class: "label" }, label));
  return h("div", { class: "panels", id: "usage-summary" },
    panel(fmt(hours(t.core_seconds)), `cluster core-hours · ${periodText.toLowerCase()}`),
    panel(fmt(hours(t.memory_gb_seconds)), "cluster memory-GB-hours"),
    panel(String(t.clusters), "clusters that ran"),
    panel(fmt(a.total_resource_utilization.vcpu_hours), "serverless vCPU-hours"),
    panel(fmt(a.total_resource_utilization.memory_gb_hours), "serverless memory-GB-hours"),
    panel(String(a.job_runs), "job runs submitted"));
}

function clusterSection(report, series, buckets, period, by, name, studio) {
  const heading = by.startsWith("tag:") ? `tag ${by.slice(4)}` : by;
  const section = h("section", { id: "cluster-usage" }, h("h2", {}, `Clusters, by ${heading}`));
  if (!report.rows.length) {
    section.append(h("p", { class: "empty", id: "cluster-usage-empty" },
      `No cluster ran in this studio during the ${period[1].toLowerCase()}. `,
      link(`/console/studios/${studio.id}/clusters`, "Clusters"), " launched from a template are metered from their workers' lifetimes."));
    return section;
  }
  const keys = topKeys(report.rows, (r) => r.core_seconds);
  const colors = colorsOf(keys, name);
  const rows = byLargest(report.rows.map((r) => ({ ...r, name: name(r.key) })), (r) => r.core_seconds);
  section.append(
    h("div", { class: "chart-pair" },
      chartBox(`Core-hours by ${heading}`, barChart(rows.map((r) => ({ label: r.name, value: hours(r.core_seconds), key: r.key })), "core-hours", colors, "chart-cores-by-group")),
      chartBox(`Memory-GB-hours by ${heading}`, barChart(rows.map((r) => ({ label: r.name, value: hours(r.memory_gb_seconds), key: r.key })), "memory-GB-hours", colors, "chart-memory-by-group"))),
    chartBox(`Core-hours per ${period[3]}`, columnChart(buckets, series.map((s) => s.rows), (r) => hours(r.core_seconds), colors, "core-hours", "chart-cores-over-time")),
    legend(colors),
    h("h3", {}, "The numbers"),
    numbersTable(
      [["Group", (r) => r.name], ["Clusters", (r) => r.clusters], ["Core-hours", (r) => fmt(hours(r.core_seconds))], ["Memory-GB-hours", (r) => fmt(hours(r.memory_gb_seconds))]],
      rows, { ...report.total, name: "Total" }, "cluster-usage-table"),
    h("div", { class: "row-actions start" },
      button("Download CSV", () => downloadCsv(`${studio.name}-cluster-usage-by-${by.replace(":", "-")}.csv`,
        [by, "clusters", "core_hours", "memory_gb_hours", "since", "until"],
        rows.map((r) => [r.name, r.clusters, round(hours(r.core_seconds)), round(hours(r.memory_gb_seconds)), report.since, report.until])),
      { id: "csv-clusters" }),
      button(`Download per ${period[3]} CSV`, () => downloadCsv(`${studio.name}-cluster-usage-per-${period[3]}.csv`,
        ["since", "until", by, "clusters", "core_hours", "memory_gb_hours"],
        series.flatMap((s, i) => s.rows.map((r) => [buckets[i].since.toISOString(), buckets[i].until.toISOString(), name(r.key), r.clusters, round(hours(r.core_seconds)), round(hours(r.memory_gb_seconds))]))),
      { id: "csv-clusters-series" })),
  );
  return section;
}

function serverlessSection(report, series, buckets, period, appBy, studio) {
  const heading = appBy.startsWith("tag:") ? `tag ${appBy.slice(4)}` : SERVERLESS_HEADING[appBy];
  const section = h("section", { id: "serverless-usage" }, h("h2", {}, `Serverless job runs, by ${heading}`));
  if (!report.rows.length) {
    section.append(h("p", { class: "empty", id: "serverless-usage-empty" },
      `No job run was submitted to this studio's `, link(`/console/studios/${studio.id}/serverless`, "serverless applications"),
      ` during the ${period[1].toLowerCase()}.`));
    return section;
  }
  const vcpu = (r) => r.total_resource_utilization.vcpu_hours;
  const colors = colorsOf(topKeys(report.rows, vcpu), (k) => k);
  const rows = byLargest(report.rows.map((r) => ({ ...r, name: r.key })), vcpu);
  section.append(
    h("div", { class: "chart-pair" },
      chartBox(`vCPU-hours by ${heading}`, barChart(rows.map((r) => ({ label: r.key, value: vcpu(r), key: r.key })), "vCPU-hours", colors, "chart-vcpu-by-group")),
      chartBox(`Memory-GB-hours by ${heading}`, barChart(rows.map((r) => ({ label: r.key, value: r.total_resource_utilization.memory_gb_hours, key: r.key })), "memory-GB-hours", colors, "chart-app-memory-by-group"))),
    chartBox(`vCPU-hours per ${period[3]} (of the runs submitted in it)`, columnChart(buckets, series.map((s) => s.rows), vcpu, colors, "vCPU-hours", "chart-vcpu-over-time")),
    legend(colors),
    h("h3", {}, "The numbers"),
    numbersTable(
      [
        ["Group", (r) => r.name], ["Job runs", (r) => r.job_runs],
        ["vCPU-hours", (r) => fmt(vcpu(r))], ["Memory-GB-hours", (r) => fmt(r.total_resource_utilization.memory_gb_hours)],
        ["Storage-GB-hours", (r) => fmt(r.total_resource_utilization.storage_gb_hours)],
        ["Billed vCPU-hours", (r) => fmt(r.billed_resource_utilization.vcpu_hours)],
        ["Billed memory-GB-hours", (r) => fmt(r.billed_resource_utilization.memory_gb_hours)],
        ["Running (h)", (r) => fmt(hours(r.execution_seconds))], ["Queued (min)", (r) => fmt(r.queued_seconds / 60)],
      ],
      rows, { ...report.total, name: "Total" }, "serverless-usage-table"),
    h("div", { class: "row-actions start" },
      button("Download CSV", () => downloadCsv(`${studio.name}-serverless-usage-by-${appBy.replace(":", "-")}.csv`,
        [appBy, "job_runs", "vcpu_hours", "memory_gb_hours", "storage_gb_hours", "billed_vcpu_hours", "billed_memory_gb_hours",
          "billed_storage_gb_hours", "execution_seconds", "queued_seconds", "since", "until"],
        rows.map((r) => [r.key, r.job_runs, ...utilization(r.total_resource_utilization), ...utilization(r.billed_resource_utilization),
          r.execution_seconds, r.queued_seconds, report.since, report.until])),
      { id: "csv-serverless" })),
  );
  return section;
}

const byLargest = (rows, value) => rows.slice().sort((a, b) => value(b) - value(a));
const utilization = (u) => [u.vcpu_hours, u.memory_gb_hours, u.storage_gb_hours];

/** A table whose number columns align right, with a total row at the foot. */
function numbersTable(columns, rows, total, id) {
  const cell = (content, i) => h("td", { class: i ? "num" : null }, content);
  return h("table", { id, class: "numbers" },
    h("thead", {}, h("tr", {}, columns.map(([heading], i) => h("th", { class: i ? "num" : null }, heading)))),
    h("tbody", {}, rows.map((r) => h("tr", {}, columns.map(([, value], i) => cell(value(r), i))))),
    h("tfoot", {}, h("tr", {}, columns.map(([, value], i) => cell(value(total), i)))));
}

// ---------------------------------------------------------------- charts (inline SVG)

const SVG_NS = "http://www.w3.org/2000/svg";

/** svg("rect", {x: 1}, child…): like h(), for SVG elements (which need their namespace). */
function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== null && value !== undefined) node.setAttribute(key, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const tip = (text) => svg("title", {}, text);

function chartBox(title, chart) {
  return h("figure", { class: "chart-box" }, h("figcaption", {}, title), chart);
}

/** The biggest groups get their own color; the others are drawn together as "other". */
function topKeys(rows, value) {
  return rows.slice().sort((a, b) => value(b) - value(a)).slice(0, TOP).map((r) => r.key);
}

/** key → {index, label}: a color class (series-0…) per group; OTHER for the rest. */
function colorsOf(keys, name) {
  const colors = new Map(keys.map((key, index) => [key, { index, label: name(key) }]));
  colors.other = { index: "other", label: "other" };
  colors.of = (key) => colors.get(key) || colors.other;
  return colors;
}

function legend(colors) {
  const items = [...colors.values()].map((c) => h("span", {}, h("span", { class: `swatch series-${c.index}` }), c.label));
  return h("div", { class: "legend", role: "list", "aria-label": "Colors" }, items.map((item) => (item.setAttribute("role", "listitem"), item)));
}

/** Horizontal bars, one per group, sorted largest first, value at the end of each bar. */
function barChart(items, unit, colors, id) {
  const sorted = items.slice().sort((a, b) => b.value - a.value);
  const width = 440;
  const left = 120;
  const right = 70;
  const row = 26;
  const top = 8;
  const axisY = top + sorted.length * row + 4;
  const height = axisY + 34;
  const scale = ticks(Math.max(...sorted.map((i) => i.value)));
  const x = (v) => left + (v / scale.max) * (width - left - right);
  return svg("svg", { class: "chart bars", id, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": `${unit} by group` },
    scale.values.map((v) => [
      svg("line", { class: "grid", x1: x(v), x2: x(v), y1: top, y2: axisY }),
      svg("text", { x: x(v), y: axisY + 14, "text-anchor": "middle" }, tickText(v)),
    ]),
    sorted.map((item, i) => {
      const y = top + i * row;
      return svg("g", { class: "bar-row" },
        svg("text", { x: left - 6, y: y + row / 2 + 4, "text-anchor": "end", class: "label" }, shorten(item.label, 18), tip(item.label)),
        svg("rect", { class: `bar series-${colors.of(item.key).index}`, x: left, y: y + 4, height: row - 8,
          width: Math.max(x(item.value) - left, item.value > 0 ? 1 : 0), rx: 2 }, tip(`${item.label}: ${fmt(item.value)} ${unit}`)),
        svg("text", { x: x(item.value) + 4, y: y + row / 2 + 4, class: "value" }, fmt(item.value)));
    }),
    svg("line", { class: "axis", x1: left, x2: left, y1: top, y2: axisY }),
    svg("line", { class: "axis", x1: left, x2: width - right, y1: axisY, y2: axisY }),
    svg("text", { x: (left + width - right) / 2, y: height - 4, "text-anchor": "middle", class: "axis-title" }, unit));
}

/** Columns over time, stacked by group; hovering a piece tells its group and value. */
function columnChart(buckets, rowsPerBucket, value, colors, unit, id) {
  const width = 900;
  const height = 280;
  const left = 64;
  const right = 12;
  const top = 12;
  const bottom = 58;
  const stacks = rowsPerBucket.map((rows) => stackOf(rows, value, colors));
  const scale = ticks(Math.max(0, ...stacks.map((s) => s.total)));
  const plotHeight = height - top - bottom;
  const slot = (width - left - right) / buckets.length;
  const y = (v) => top + plotHeight - (v / scale.max) * plotHeight;
  const every = Math.ceil(buckets.length / 12); // at most ~12 labels along the axis
  return svg("svg", { class: "chart columns", id, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": `${unit} per ${buckets[0].unit}` },
    scale.values.map((v) => [
      svg("line", { class: "grid", x1: left, x2: width - right, y1: y(v), y2: y(v) }),
      svg("text", { x: left - 6, y: y(v) + 4, "text-anchor": "end" }, tickText(v)),
    ]),
    stacks.map((stack, i) => {
      const x = left + i * slot + slot * 0.15;
      let base = 0;
      const pieces = stack.pieces.map((piece) => {
        const rect = svg("rect", { class: `bar series-${piece.color.index}`, x, width: slot * 0.7,
          y: y(base + piece.value), height: Math.max(y(base) - y(base + piece.value), 0) },
          tip(`${bucketTitle(buckets[i])} · ${piece.color.label}: ${fmt(piece.value)} ${unit}`));
        base += piece.value;
        return rect;
      });
      return svg("g", { class: "column", "data-bucket": buckets[i].since.toISOString() },
        // A transparent full-height target: hovering anywhere over the column gives its total.
        svg("rect", { class: "hover", x: left + i * slot, width: slot, y: top, height: plotHeight },
          tip(`${bucketTitle(buckets[i])}: ${fmt(stack.total)} ${unit} in all`)),
        pieces,
        i % every === 0
          ? svg("text", { x: left + i * slot + slot / 2, y: top + plotHeight + 16, "text-anchor": "middle" }, bucketLabel(buckets[i]))
          : null);
    }),
    svg("line", { class: "axis", x1: left, x2: left, y1: top, y2: top + plotHeight }),
    svg("line", { class: "axis", x1: left, x2: width - right, y1: top + plotHeight, y2: top + plotHeight }),
    svg("text", { class: "axis-title", x: 14, y: top + plotHeight / 2, "text-anchor": "middle", transform: `rotate(-90 14 ${top + plotHeight / 2})` }, unit),
    svg("text", { class: "axis-title", x: (left + width - right) / 2, y: height - 8, "text-anchor": "middle" },
      buckets[0].unit === "hour" ? "hour (local time)" : "day (local time)"));
}

/** One bucket's groups as colored pieces, the top groups first and "other" last. */
function stackOf(rows, value, colors) {
  const sums = new Map();
  for (const row of rows) {
    const color = colors.of(row.key);
    sums.set(color, (sums.get(color) || 0) + value(row));
  }
  const pieces = [...sums].map(([color, v]) => ({ color, value: v })).filter((p) => p.value > 0)
    .sort((a, b) => order(a.color) - order(b.color));
  return { pieces, total: pieces.reduce((sum, p) => sum + p.value, 0) };
}

const order = (color) => (color.index === "other" ? TOP : color.index);

/** A rounded top for the axis and 4–5 evenly spaced ticks. */
function ticks(max) {
  if (!(max > 0)) return { max: 1, values: [0, 0.25, 0.5, 0.75, 1] };
  const rough = max / 4;
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= rough);
  const top = Math.ceil(max / step) * step;
  const values = [];
  for (let v = 0; v <= top + step / 2; v += step) values.push(Number(v.toPrecision(12)));
  return { max: top, values };
}

function fmt(value) {
  const v = Number(value) || 0;
  if (v === 0) return "0";
  if (Math.abs(v) >= 100) return Math.round(v).toLocaleString();
  if (Math.abs(v) >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

// Ticks are round numbers: no trailing zeros ("2.5", "10", "1,500").
const tickText = (v) => Number(v.toPrecision(6)).toLocaleString();
const round = (value) => Math.round(value * 1000) / 1000;
const shorten = (text, length) => (text.length > length ? `${text.slice(0, length - 1)}…` : text);
