// Launch a cluster from a template shared with the studio. The form is generated from the
// chosen template's parameters (a choice list → a select, bounds → min/max, description →
// help, default → filled in); values are sent with their JSON types, and a 422's errors
// ("parameters.<Name>", "tags", …) are shown next to their fields.

import { ApiError, api, clear, form, goTo, h, link } from "../lib.js";

export async function render(ctx) {
  const { main, studio } = ctx;
  const pages = `/console/studios/${studio.id}/clusters`;
  const templates = await api("GET", `/studios/${studio.id}/templates`);
  const head = [h("h1", {}, "Launch a cluster"), h("p", {}, link(pages, "← Clusters"))];
  if (!templates.length) {
    clear(main, head, h("p", { class: "empty", id: "no-templates" },
      "No template is shared with this studio yet: a platform admin shares templates with studios (Admin → Templates)."));
    return;
  }
  const wanted = ctx.query.get("template");
  const chosen = templates.find((t) => t.name === wanted) || templates[0];
  clear(
    main,
    head,
    h("h2", {}, "Template"),
    templatePicker(templates, chosen),
    h("h2", {}, `Launch from ${chosen.name}`),
    launchForm(studio, chosen, pages),
  );
}

/** The templates as plain links (?template=…), the chosen one marked. */
function templatePicker(templates, chosen) {
  return h(
    "ul",
    { class: "template-choices", id: "templates" },
    templates.map((t) =>
      h(
        "li",
        { class: t.name === chosen.name ? "current" : null },
        link(`?template=${encodeURIComponent(t.name)}`, `${t.name} v${t.version}`, {
          "data-template": t.name,
          "aria-current": t.name === chosen.name ? "true" : null,
        }),
        h("small", { class: "help" }, t.description || ""),
      ),
    ),
  );
}

function launchForm(studio, template, pages) {
  const specs = [
    { name: "name", label: "Name", required: true, help: "Letters, digits, '.', '_' and '-'; unique among the studio's clusters." },
    ...template.parameters.map(parameterSpec),
    { name: "idle_timeout_seconds", label: "Idle timeout (minutes)", type: "number", min: 1, max: 10080,
      help: "Optional: overrides the template's idle timeout (1 minute to 7 days). Empty: the template's." },
    { name: "tags", label: "Tags", type: "textarea", rows: 3, placeholder: "team=analytics\ncost-center=42",
      help: "Optional cost allocation tags, one key=value a line; added to the template's." },
  ];
  if (studio.networks.length > 1) {
    specs.push({ name: "network", label: "Network", type: "select", choices: studio.networks, value: studio.networks[0] });
  }
  return form(
    specs,
    async (values) => {
      const body = requestBody(template, values);
      const cluster = await api("POST", `/studios/${studio.id}/clusters`, body);
      goTo(`${pages}/${cluster.id}`, `Cluster ${cluster.name} is starting.`);
    },
    { label: "Launch", id: "launch" },
  );
}

/** A form field for one template parameter, named like the API names it in errors. */
function parameterSpec(p) {
  const spec = { name: `parameters.${p.name}`, label: p.label || p.name, value: p.default, help: parameterHelp(p) };
  if (p.type === "Boolean") return { ...spec, type: "checkbox", value: p.default === true };
  if (p.allowed_values && p.allowed_values.length) {
    return { ...spec, type: "select", choices: p.allowed_values.map((v) => [String(v), String(v)]) };
  }
  if (p.type === "Number") return { ...spec, type: "number", min: p.min ?? undefined, max: p.max ?? undefined };
  return { ...spec, type: "text" };
}

function parameterHelp(p) {
  const notes = [];
  if (p.description) notes.push(p.description);
  if (p.type === "Number" && (p.min !== null || p.max !== null) && !(p.allowed_values && p.allowed_values.length)) {
    notes.push(p.min !== null && p.max !== null ? `${p.min} to ${p.max}.` : p.min !== null ? `At least ${p.min}.` : `At most ${p.max}.`);
  }
  if (p.default !== null && p.default !== undefined) notes.push(`Default: ${p.default}.`);
  return notes.join(" ");
}

/** The POST body: parameter values with their JSON types; empty optional fields left out. */
function requestBody(template, values) {
  const body = { name: values.name.trim(), template: template.name, template_version: template.version, parameters: {} };
  for (const p of template.parameters) {
    const value = typed(p, values[`parameters.${p.name}`]);
    if (value !== undefined) body.parameters[p.name] = value;
  }
  if (values.idle_timeout_seconds !== undefined) {
    const minutes = values.idle_timeout_seconds;
    if (!(minutes >= 1 && minutes <= 10080)) {
      throw fieldError("idle_timeout_seconds", "must be 1 to 10080 minutes (7 days)");
    }
    body.idle_timeout_seconds = Math.round(minutes * 60);
  }
  body.tags = parseTags(values.tags || "");
  if (values.network) body.network = values.network;
  return body;
}

/** A form value as the parameter's JSON type: a select's "3" is the number 3 when the choice is. */
function typed(p, value) {
  if (p.type === "Boolean") return Boolean(value);
  if (p.allowed_values && p.allowed_values.length) {
    const match = p.allowed_values.find((v) => String(v) === value);
    return match === undefined ? value : match;
  }
  if (p.type === "Number") return value === undefined || Number.isNaN(value) ? undefined : value;
  return value === "" ? undefined : value;
}

function parseTags(text) {
  const tags = {};
  for (const [index, raw] of text.split("\n").entries()) {
    const line = raw.trim();
    if (!line) continue;
    const at = line.indexOf("=");
    if (at <= 0) throw fieldError("tags", `line ${index + 1}: write key=value`);
    tags[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return tags;
}

// Checked here before sending, shown next to the field like the API's own errors.
function fieldError(field, message) {
  return new ApiError(422, { message: `${field}: ${message}`, fields: [{ field, message }] });
}
