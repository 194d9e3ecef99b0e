// The console's building blocks: API calls, DOM building, tables, forms, live updates.
// Everything is built with DOM nodes (never innerHTML), so no value is ever read as HTML.

const API = "/api/v1";

export class ApiError extends Error {
  constructor(status, body) {
    super(body.message || `HTTP ${status}`);
    this.status = status;
    this.reason = body.reason || "";
    this.fields = body.fields || [];
  }
}

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

/**
 * Call the API with the browser's session; JSON in and out; errors raise ApiError.
 * A 401 means the session has ended: the browser goes to the sign-in page (unless
 * `signInOn401` is false, as for the sign-in itself, where it means a wrong password).
 */
export async function api(method, path, body, { signInOn401 = true } = {}) {
  const headers = { Accept: "application/json", "X-CSRF-Token": csrfToken() };
  const init = { method, headers, credentials: "same-origin" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(API + path, init);
  if (response.status === 401 && signInOn401) {
    const next = location.pathname + location.search;
    location.assign(`/console/login?next=${encodeURIComponent(next)}`);
    throw new ApiError(401, { message: "Your session has ended: sign in again." });
  }
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  const data = type.includes("json") ? await response.json() : { message: await response.text() };
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

/** Every item of a paged list. */
export async function all(path, params = {}) {
  const items = [];
  let token = null;
  do {
    const query = new URLSearchParams({ ...params, limit: "1000" });
    if (token) query.set("next_token", token);
    const page = await api("GET", `${path}?${query}`);
    items.push(...page.items);
    token = page.next_token;
  } while (token);
  return items;
}

/** h("a", {href: "/x", class: "button"}, "text", child) → an element. */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2), value);
    } else if (key === "dataset") {
      Object.assign(node.dataset, value);
    } else {
      node.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

export function link(href, text, attrs = {}) {
  return h("a", { href, ...attrs }, text);
}

/** A status as a colored badge: green when running, grey when ended, red on failure. */
export function badge(status) {
  const kind = /FAIL|ERROR|LOST|DENIED/.test(status)
    ? "bad"
    : /RUNNING|WAITING|READY|ATTACHED|STARTED|SUCCE|FINISHED|ACTIVE|CREATED/.test(status)
      ? "good"
      : /TERMINATED|STOPPED|CANCELLED|PAUSED|DELETED/.test(status)
        ? "ended"
        : "busy";
  return h("span", { class: `badge ${kind}`, "data-status": status }, status);
}

export function when(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return h("time", { datetime: iso, title: date.toISOString() }, date.toLocaleString());
}

/** Seconds as "2 h 5 min", "3 min 10 s", "12 s". */
export function duration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s >= 3600) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  if (s >= 60) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${s} s`;
}

/**
 * A table: columns are [heading, row => cell content]; rows with no items show `empty`.
 */
export function table(columns, rows, { empty = "Nothing here yet.", id } = {}) {
  if (!rows.length) return h("p", { class: "empty", id }, empty);
  return h(
    "table",
    { id },
    h("thead", {}, h("tr", {}, columns.map(([heading]) => h("th", {}, heading)))),
    h(
      "tbody",
      {},
      rows.map((row) => h("tr", { dataset: { id: row.id || "" } }, columns.map(([, cell]) => h("td", {}, cell(row))))),
    ),
  );
}

/** A message at the top of the page, e.g. after an action. */
export function flash(message, kind = "info") {
  const area = document.getElementById("flash");
  if (!area) return;
  clear(area, h("p", { class: `flash ${kind}`, role: kind === "error" ? "alert" : "status" }, message));
}

export function errorText(error) {
  return error instanceof ApiError ? error.message : String(error);
}

/**
 * A form from field specs; on submit, `submit(values)` runs and a 422's field errors are
 * shown next to their fields (the API names them, e.g. "parameters.Size").
 * A spec: {name, label, type: text|number|select|textarea|checkbox|password, choices,
 * value, min, max, help, required, placeholder}.
 */
export function form(specs, submit, { label = "Save", id } = {}) {
  const errors = new Map();
  const inputs = new Map();
  const general = h("p", { class: "form-error", role: "alert", hidden: true });
  const rows = specs.map((spec) => {
    const inputId = `field-${(id || "form")}-${spec.name.replaceAll(".", "-")}`;
    let input;
    if (spec.type === "select") {
      input = h(
        "select",
        { id: inputId, name: spec.name, required: spec.required },
        (spec.choices || []).map((choice) => {
          const [value, text] = Array.isArray(choice) ? choice : [choice, choice];
          return h("option", { value, selected: String(value) === String(spec.value ?? "") }, text);
        }),
      );
    } else if (spec.type === "textarea") {
      input = h("textarea", { id: inputId, name: spec.name, rows: spec.rows || 6, placeholder: spec.placeholder }, spec.value ?? "");
    } else if (spec.type === "checkbox") {
      input = h("input", { id: inputId, name: spec.name, type: "checkbox", checked: Boolean(spec.value) });
    } else {
      input = h("input", {
        id: inputId,
        name: spec.name,
        type: spec.type || "text",
        value: spec.value ?? "",
        min: spec.min,
        max: spec.max,
        step: spec.type === "number" ? spec.step || "any" : undefined,
        required: spec.required,
        placeholder: spec.placeholder,
        autocomplete: spec.autocomplete,
      });
    }
    inputs.set(spec.name, { input, spec });
    const error = h("span", { class: "field-error", id: `${inputId}-error`, role: "alert" });
    errors.set(spec.name, error);
    input.setAttribute("aria-describedby", `${inputId}-error`);
    return h(
      "div",
      { class: `field ${spec.type === "checkbox" ? "inline" : ""}` },
      h("label", { for: inputId }, spec.label || spec.name),
      input,
      spec.help ? h("small", { class: "help" }, spec.help) : null,
      error,
    );
  });
  const button = h("button", { type: "submit", class: "primary" }, label);
  const node = h("form", { id, novalidate: true }, rows, general, h("div", { class: "actions" }, button));
  node.addEventListener("submit", async (event) => {
    event.preventDefault();
    for (const error of errors.values()) error.textContent = "";
    general.hidden = true;
    const values = {};
    for (const [name, { input, spec }] of inputs) {
      if (spec.type === "checkbox") values[name] = input.checked;
      else if (spec.type === "number") values[name] = input.value === "" ? undefined : Number(input.value);
      else values[name] = input.value;
    }
    button.disabled = true;
    try {
      await submit(values);
    } catch (error) {
      showErrors(error, errors, general);
    } finally {
      button.disabled = false;
    }
  });
  return node;
}

function showErrors(error, errors, general) {
  let placed = false;
  if (error instanceof ApiError) {
    for (const field of error.fields) {
      // "parameters.Size" goes to the field "parameters.Size", else to its first part.
      const name = String(field.field);
      const target = errors.get(name) || errors.get(name.split(".")[0]) || errors.get(name.split(".").slice(-1)[0]);
      if (target) {
        target.textContent = field.message;
        placed = true;
      }
    }
  }
  if (!placed) {
    general.textContent = errorText(error);
    general.hidden = false;
  }
}

/** A button that calls `action` (after `confirmText`, if given) and reports its outcome. */
export function button(text, action, { kind = "", confirmText, id } = {}) {
  const node = h("button", { type: "button", class: kind, id }, text);
  node.addEventListener("click", async () => {
    if (confirmText && !window.confirm(confirmText)) return;
    node.disabled = true;
    try {
      await action();
    } catch (error) {
      flash(errorText(error), "error");
    } finally {
      node.disabled = false;
    }
  });
  return node;
}

/**
 * Re-run `render` every `seconds` while the page is shown (live state without reloading);
 * stops when the page is left. Returns a function that stops it.
 */
export function live(render, seconds = 2) {
  let stopped = false;
  let timer = null;
  const tick = async () => {
    if (stopped) return;
    try {
      await render();
    } catch (error) {
      flash(errorText(error), "error");
    }
    if (!stopped) timer = setTimeout(tick, seconds * 1000);
  };
  timer = setTimeout(tick, seconds * 1000);
  const stop = () => {
    stopped = true;
    clearTimeout(timer);
  };
  window.addEventListener("pagehide", stop, { once: true });
  return stop;
}

/** Rows as CSV (RFC 4180 quoting), downloaded as `filename`. */
export function downloadCsv(filename, headings, rows) {
  const quote = (value) => {
    const text = value === null || value === undefined ? "" : String(value);
    return /[",\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
  };
  const text = [headings, ...rows].map((row) => row.map(quote).join(",")).join("\r\n") + "\r\n";
  const url = URL.createObjectURL(new Blob([text], { type: "text/csv" }));
  const anchor = h("a", { href: url, download: filename });
  document.body.append(anchor);
  anchor.click();
  anchor.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** Go to `href` after an action, with a message shown on the next page. */
export function goTo(href, message) {
  if (message) sessionStorage.setItem("flash", message);
  location.assign(href);
}

/**
 * Where a studio's users may name the locations of scripts, notebooks and outputs: its
 * storage first, then those a platform admin allowed for it (the API refuses any other).
 */
export function studioLocations(studio) {
  return [studio.storage_location, ...(studio.allowed_locations || [])].map((l) => l.replace(/\/+$/, ""));
}
