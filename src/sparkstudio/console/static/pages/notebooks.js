// Notebook runs (executions) of a studio: the list, filtered by state and target through
// the address (?state=…&target=…), live while some run; a form to run a notebook on a
// cluster or an application. Also the notebook and target fields schedules share.

import { ApiError, all, api, badge, clear, form, goTo, h, link, live, studioLocations, table, when } from "../lib.js";

export const EXECUTION_ENDED = new Set(["FINISHED", "FAILED", "STOPPED"]);
const STATES = ["START_PENDING", "STARTING", "RUNNING", "FINISHING", "FINISHED", "FAILING", "FAILED", "STOP_PENDING", "STOPPING", "STOPPED"];

/** The clusters and applications a notebook may run on, and the studio's workspaces. */
export async function targetsOf(base) {
  const [clusters, applications, workspaces] = await Promise.all([
    all(`${base}/clusters`, { active: "true" }),
    all(`${base}/applications`),
    all(`${base}/workspaces`),
  ]);
  return { clusters, applications: applications.filter((a) => a.status !== "TERMINATED"), workspaces };
}

/** "cluster etl" / "application etl" for a target {kind, id}, a link to its page. */
export function targetLink(studioId, target, names) {
  const name = names.get(target.id) || target.id;
  const path = target.kind === "CLUSTER" ? "clusters" : "serverless";
  return link(`/console/studios/${studioId}/${path}/${target.id}`, `${target.kind === "CLUSTER" ? "cluster" : "application"} ${name}`);
}

/** A notebook source as text: "workspace:path" or its URI. */
export function notebookText(notebook, names) {
  if (notebook.uri) return h("code", {}, notebook.uri);
  return h("span", {}, h("code", {}, notebook.path), ` in ${names.get(notebook.workspace_id) || notebook.workspace_id}`);
}

/** Names by id of clusters, applications and workspaces, for showing targets and sources. */
export function namesOf({ clusters, applications, workspaces }) {
  return new Map([...clusters, ...applications, ...workspaces].map((x) => [x.id, x.name]));
}

/** The form fields of what a run runs and where: notebook, target, parameters, … */
export function executionSpecs({ clusters, applications, workspaces }, studio) {
  const places = studioLocations(studio);
  const usable = clusters.filter((c) => !/TERMINAT/.test(c.status));
  const targets = [
    ...usable.map((c) => [`CLUSTER:${c.id}`, `Cluster ${c.name} (${c.status})`]),
    ...applications.map((a) => [`APPLICATION:${a.id}`, `Application ${a.name} (${a.status})`]),
  ];
  return [
    { name: "notebook.workspace_id", label: "Workspace", type: "select",
      choices: [["", "— none: the notebook is at a URI —"], ...workspaces.map((w) => [w.id, w.name])] },
    { name: "notebook.path", label: "Notebook path in the workspace", placeholder: "reports/daily.ipynb", help: "Relative to the workspace's root." },
    { name: "notebook.uri", label: "…or notebook URI", placeholder: `${places[0]}/reports/daily.ipynb`,
      help: `A notebook in the studio's storage: under ${places.join(" or ")}.` },
    { name: "target", label: "Run on", type: "select", choices: targets.length ? targets : [["", "— no cluster or application: create one first —"]] },
    { name: "parameters", label: "Parameters", type: "textarea", rows: 4, placeholder: "day=2024-06-01\nlimit=100\nregions=[\"eu\", \"us\"]",
      help: "One name=value a line (a value that reads as JSON is taken as JSON, else as text), or one JSON object." },
    { name: "environment_variables", label: "Environment variables", type: "textarea", rows: 3, placeholder: "API_KEY=…",
      help: "NAME=value, one a line: set in the notebook's kernel; the values are never shown again." },
    { name: "timeout_minutes", label: "Stop after (minutes)", type: "number", min: 0, max: 10080, value: 0, help: "0: never." },
    { name: "tags", label: "Tags", placeholder: "team=data, env=prod", help: "key=value, separated by commas." },
  ];
}

/** The fields of executionSpecs as the API's body; a bad line is a 422-like field error. */
export function executionBody(values) {
  const [kind, id] = (values.target || "").split(":");
  const notebook = values["notebook.uri"].trim()
    ? { uri: values["notebook.uri"].trim() }
    : { workspace_id: values["notebook.workspace_id"] || null, path: values["notebook.path"].trim() || null };
  if (!notebook.uri && !notebook.workspace_id && !notebook.path) {
    throw fieldError("notebook.path", "give a workspace and a notebook path, or a notebook URI");
  }
  if (!kind) throw fieldError("target", "choose a cluster or an application");
  const body = {
    notebook,
    target: { kind, id },
    parameters: parseParameters(values.parameters),
    environment_variables: parsePairs(values.environment_variables, "environment_variables", "\n"),
    tags: parsePairs(values.tags, "tags", ","),
  };
  if (values.timeout_minutes !== undefined) body.timeout_minutes = values.timeout_minutes;
  return body;
}

/**
 * Run `submit`; a 422 about the notebook as a whole ("notebook: …") is shown next to the
 * notebook field that was filled in (the form has no single "notebook" field).
 */
export async function withNotebookErrors(values, submit) {
  try {
    return await submit();
  } catch (error) {
    if (error instanceof ApiError) {
      const field = values["notebook.uri"].trim() ? "notebook.uri" : "notebook.path";
      for (const f of error.fields) if (f.field === "notebook") f.field = field;
    }
    throw error;
  }
}

function fieldError(field, message) {
  return new ApiError(422, { message: `${field}: ${message}`, fields: [{ field, message }] });
}

/** "a=1\nb=text" or '{"a": 1}' as {a: 1, b: "text"}: values read as JSON when they parse. */
export function parseParameters(text) {
  const trimmed = (text || "").trim();
  if (!trimmed) return {};
  if (trimmed.startsWith("{")) {
    try {
      return JSON.parse(trimmed);
    } catch (error) {
      throw fieldError("parameters", `not a JSON object: ${error.message}`);
    }
  }
  const pairs = parsePairs(trimmed, "parameters", "\n");
  for (const [key, value] of Object.entries(pairs)) {
    try {
      pairs[key] = JSON.parse(value);
    } catch {
      pairs[key] = value; // not JSON: the text itself, as the CLI's -p does
    }
  }
  return pairs;
}

function parsePairs(text, field, separator) {
  const pairs = {};
  for (const piece of (text || "").split(separator)) {
    const line = piece.trim();
    if (!line) continue;
    const at = line.indexOf("=");
    if (at < 1) throw fieldError(field, `write name=value (got ${JSON.stringify(line.slice(0, 40))})`);
    pairs[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return pairs;
}

function filterLinks(label, key, choices, current, query) {
  const href = (value) => {
    const next = new URLSearchParams(query);
    if (value) next.set(key, value);
    else next.delete(key);
    const text = next.toString();
    return text ? `?${text}` : "?";
  };
  return h(
    "p",
    { class: "filters", id: `filter-${key}` },
    h("span", { class: "label" }, `${label}: `),
    [["", "all"], ...choices].map(([value, text]) =>
      value === (current || "") ? h("strong", { "aria-current": "true" }, text) : link(href(value), text),
    ),
  );
}

export async function render(ctx) {
  const { main, studio, query } = ctx;
  const base = `/studios/${studio.id}`;
  const page = `/console/studios/${studio.id}/notebooks`;
  const state = query.get("state") || "";
  const target = query.get("target") || "";
  const list = h("div", { id: "execution-list" });
  const known = await targetsOf(base);
  const names = namesOf(known);

  async function refresh() {
    const params = {};
    if (state) params.states = state;
    if (target) params.target_id = target;
    const executions = (await all(`${base}/notebook-executions`, params)).reverse();
    clear(
      list,
      table(
        [
          ["Run", (e) => link(`${page}/${e.id}`, e.name || e.id, { "data-execution": e.id })],
          ["State", (e) => badge(e.status)],
          ["Notebook", (e) => notebookText(e.notebook, names)],
          ["On", (e) => targetLink(studio.id, e.target, names)],
          ["Started", (e) => when(e.created_at)],
          ["By", (e) => (e.schedule_id ? link(`/console/studios/${studio.id}/schedules/${e.schedule_id}`, "a schedule") : e.created_by)],
        ],
        executions,
        { id: "executions", empty: state || target ? "No notebook run matches these filters." : "No notebook has run yet: run one below." },
      ),
    );
  }

  const targetChoices = [
    ...known.clusters.map((c) => [c.id, `cluster ${c.name}`]),
    ...known.applications.map((a) => [a.id, `application ${a.name}`]),
  ];
  const start = form(
    [{ name: "name", label: "Run name", placeholder: "daily", help: "Optional." }, ...executionSpecs(known, studio)],
    (values) => withNotebookErrors(values, async () => {
      const body = executionBody(values);
      if (values.name.trim()) body.name = values.name.trim();
      const execution = await api("POST", `${base}/notebook-executions`, body);
      goTo(`${page}/${execution.id}`, `Notebook run ${execution.name || execution.id} is starting.`);
    }),
    { label: "Run notebook", id: "new-execution" },
  );

  clear(
    main,
    h("h1", {}, "Notebook runs"),
    h("p", { class: "help" }, "A notebook run executes a Jupyter notebook from its first cell to its last, with parameters, on a cluster or a serverless application, and keeps the executed notebook and its HTML."),
    filterLinks("State", "state", STATES.map((s) => [s, s]), state, query),
    targetChoices.length ? filterLinks("On", "target", targetChoices, target, query) : null,
    list,
    h("h2", {}, "Run a notebook"),
    start,
  );
  await refresh();
  live(refresh, 3);
}
