// Platform administration: users, groups, studios (members, quotas, sign-in mode),
// cluster templates (versions, publishing, sharing) and the audit trail. Each tab is its own address
// (/console/admin/<tab>) and the selected item is in the query (?studio=, ?group=, ...),
// so reloads and the back button work. Only platform admins get answers from these APIs.

import { ApiError, all, api, badge, button, clear, errorText, flash, form, h, link, table, when } from "../lib.js";
import { auditTab } from "./audit.js";

const TABS = [
  ["users", "Users"],
  ["groups", "Groups"],
  ["studios", "Studios"],
  ["templates", "Templates"],
  ["audit", "Audit trail"],
];
const RENDERERS = {
  users: usersTab, groups: groupsTab, studios: studiosTab, templates: templatesTab, audit: auditTab,
};

export async function render(ctx) {
  const { main } = ctx;
  const tab = ctx.params.tab || "users";
  if (!ctx.me.user.is_platform_admin) {
    clear(main, h("h1", {}, "Admin"), refusal());
    return;
  }
  const body = h("div", { id: "admin-body" });
  clear(main, h("h1", {}, "Admin"), tabs(tab), body);
  if (!RENDERERS[tab]) {
    clear(body, h("p", { class: "empty" }, `There is no admin tab "${tab}".`), link("/console/admin", "Back to users"));
    return;
  }
  try {
    await RENDERERS[tab](body, ctx);
  } catch (error) {
    // The API refuses every admin call to anyone but a platform admin.
    if (error instanceof ApiError && error.status === 403) clear(body, refusal());
    else throw error;
  }
}

function refusal() {
  return h("p", { class: "flash error", id: "admin-refused" },
    "Only platform admins can manage users, groups, studios and templates. Ask a platform admin if you need a change.");
}

function tabs(current) {
  return h("nav", { class: "tabs", "aria-label": "Admin sections" },
    TABS.map(([key, text]) => link(`/console/admin/${key}`, text, {
      class: key === current ? "current" : null,
      "aria-current": key === current ? "page" : null,
    })));
}

/** Re-read the page's data after a change, keeping the address (and its selection). */
function reload(message) {
  if (message) sessionStorage.setItem("flash", message);
  location.reload();
}

const yesNo = (value) => (value ? "Yes" : "—");
const enc = encodeURIComponent;

/**
 * Run an API call; a 422's field errors pass through `place` (field error → field error),
 * so an error the API names differently lands next to the field of our own form.
 */
async function retarget(place, call) {
  try {
    return await call();
  } catch (error) {
    if (error instanceof ApiError) error.fields = error.fields.map(place);
    throw error;
  }
}

// ---------------------------------------------------------------- users

async function usersTab(body, ctx) {
  const users = await all("/users");
  const rows = table(
    [
      ["Name", (u) => h("strong", { "data-user": u.name }, u.name)],
      ["Display name", (u) => u.display_name || "—"],
      ["Email", (u) => u.email || "—"],
      ["Platform admin", (u) => yesNo(u.is_platform_admin)],
      ["Status", (u) => (u.disabled ? h("span", { class: "badge bad" }, "DISABLED") : badge("ACTIVE"))],
      ["Groups", (u) => (u.groups.length ? u.groups.join(", ") : "—")],
      ["Identity provider", (u) => u.identity_provider || h("span", { class: "help" }, "local")],
      ["Created", (u) => when(u.created_at)],
      ["", (u) => userActions(u, ctx.me.user)],
    ],
    users,
    { id: "users", empty: "No users yet: create one below." },
  );
  const create = form(
    [
      { name: "name", label: "User name", required: true, autocomplete: "off",
        help: "Lower-case letters, digits, '.', '_' and '-', starting with a letter; the user signs in with it." },
      { name: "display_name", label: "Display name" },
      { name: "email", label: "Email", type: "email" },
      { name: "password", label: "Password", type: "password", autocomplete: "new-password",
        help: "8 to 256 characters; leave empty for a user who signs in only through single sign-on." },
      { name: "is_platform_admin", label: "Platform admin (everything, in every studio)", type: "checkbox" },
    ],
    async (values) => {
      const payload = { name: values.name.trim(), display_name: values.display_name, is_platform_admin: values.is_platform_admin };
      if (values.email.trim()) payload.email = values.email.trim();
      if (values.password) payload.password = values.password;
      const user = await api("POST", "/users", payload);
      reload(`User ${user.name} is created.`);
    },
    { label: "Create user", id: "new-user" },
  );
  clear(body, h("h2", {}, `Users (${users.length})`), rows, h("h2", {}, "New user"), create);
}

function userActions(u, me) {
  const path = `/users/${u.id}`;
  const toggle = u.disabled
    ? button("Enable", async () => {
        await api("PATCH", path, { disabled: false });
        reload(`User ${u.name} can sign in again.`);
      }, { id: `enable-${u.name}` })
    : button("Disable", async () => {
        await api("PATCH", path, { disabled: true });
        reload(`User ${u.name} is disabled: they can no longer sign in.`);
      }, { id: `disable-${u.name}`, confirmText: `Disable ${u.name}? They can no longer sign in.` });
  const remove = button("Delete", async () => {
    await api("DELETE", path);
    reload(`User ${u.name} is deleted.`);
  }, { kind: "danger", id: `delete-${u.name}`, confirmText: `Delete user ${u.name}? This cannot be undone.` });
  // Disabling or deleting yourself is refused by the API; do not offer it.
  return h("div", { class: "row-actions" }, u.id === me.id ? h("span", { class: "help" }, "you") : [toggle, remove]);
}

// ---------------------------------------------------------------- groups

async function groupsTab(body, ctx) {
  const [groups, users] = await Promise.all([all("/groups"), all("/users")]);
  const selected = groups.find((g) => g.id === ctx.query.get("group"));
  const list = table(
    [
      ["Name", (g) => link(`?group=${g.id}`, g.name, { "data-group": g.name })],
      ["Description", (g) => g.description || "—"],
      ["Source", (g) => (g.source ? `directory (${g.source})` : "local")],
      ["Members", (g) => (g.members.length ? g.members.join(", ") : h("span", { class: "help" }, "no members"))],
      ["", (g) => h("div", { class: "row-actions" }, button("Delete", async () => {
        await api("DELETE", `/groups/${g.id}`);
        reload(`Group ${g.name} is deleted.`);
      }, { kind: "danger", id: `delete-group-${g.name}`, confirmText: `Delete group ${g.name}? Its studio memberships go with it.` }))],
    ],
    groups,
    { id: "groups", empty: "No groups yet: create one below to give several users the same studio role." },
  );
  const create = form(
    [
      { name: "name", label: "Group name", required: true },
      { name: "description", label: "Description" },
      { name: "source", label: "Directory (OpenID Connect provider)",
        help: "Leave empty for a local group. With a provider, members follow its groups claim at every sign-in." },
    ],
    async (values) => {
      const payload = { name: values.name.trim(), description: values.description };
      if (values.source.trim()) payload.source = values.source.trim();
      const group = await api("POST", "/groups", payload);
      reload(`Group ${group.name} is created.`);
    },
    { label: "Create group", id: "new-group" },
  );
  clear(body, h("h2", {}, `Groups (${groups.length})`), list,
    selected ? groupDetails(selected, users) : null,
    h("h2", {}, "New group"), create);
}

function groupDetails(group, users) {
  const byName = new Map(users.map((u) => [u.name, u]));
  const outside = users.filter((u) => !group.members.includes(u.name));
  const members = table(
    [
      ["Member", ({ name }) => name],
      ["Display name", ({ name }) => (byName.get(name) || {}).display_name || "—"],
      ["", ({ name }) => h("div", { class: "row-actions" }, button("Remove", async () => {
        await api("DELETE", `/groups/${group.id}/members/${byName.get(name).id}`);
        reload(`${name} is no longer in ${group.name}.`);
      }, { id: `remove-member-${name}` }))],
    ],
    group.members.map((name) => ({ id: name, name })),
    { id: "group-members", empty: "No members yet: add one below." },
  );
  const add = outside.length
    ? form(
        [{ name: "user", label: "Add a user", type: "select", choices: outside.map((u) => [u.id, userLabel(u)]) }],
        async (values) => {
          await api("PUT", `/groups/${group.id}/members/${values.user}`);
          reload("The user is added to the group.");
        },
        { label: "Add member", id: "add-member" },
      )
    : h("p", { class: "empty" }, "Every user is already in this group.");
  return h("section", { id: "group-details" },
    h("h2", {}, `Group ${group.name}`),
    group.source ? h("p", { class: "help" }, `Its members follow the groups claim of ${group.source} at every sign-in; changes here last until the member's next sign-in.`) : null,
    members, add);
}

const userLabel = (u) => (u.display_name ? `${u.name} (${u.display_name})` : u.name);

// ---------------------------------------------------------------- studios

async function studiosTab(body, ctx) {
  const studios = await all("/studios");
  const selected = studios.find((s) => s.id === ctx.query.get("studio"));
  const list = table(
    [
      ["Name", (s) => link(`?studio=${s.id}`, s.name, { "data-studio": s.name })],
      ["Description", (s) => s.description || "—"],
      ["Storage", (s) => h("code", {}, s.storage_location)],
      ["Networks", (s) => s.networks.join(", ")],
      ["Sign-in", (s) => authModeText(s.auth_mode)],
      ["", (s) => h("div", { class: "row-actions" }, link(`/console/studios/${s.id}/workspaces`, "Open", { class: "button" }))],
    ],
    studios,
    { id: "studios", empty: "No studios yet: create one below." },
  );
  const create = form(
    [
      { name: "name", label: "Name", required: true, help: "Letters, digits, '.', '_' and '-'." },
      { name: "description", label: "Description" },
      { name: "storage_location", label: "Storage location", placeholder: "s3://bucket/prefix or file:///path",
        help: "Where notebooks and outputs are kept; under the control plane's home when empty." },
      { name: "networks", label: "Networks", placeholder: "default",
        help: "Comma-separated network names the studio's workspaces may use; 'default' when empty." },
      { name: "auth_mode", label: "Sign-in of members", type: "select", choices: AUTH_MODES, value: "PASSWORD_OR_SSO" },
    ],
    async (values) => {
      const payload = { name: values.name.trim(), description: values.description, auth_mode: values.auth_mode };
      if (values.storage_location.trim()) payload.storage_location = values.storage_location.trim();
      const networks = splitList(values.networks);
      if (networks.length) payload.networks = networks;
      const studio = await retarget(networkError(networks), () => api("POST", "/studios", payload));
      sessionStorage.setItem("flash", `Studio ${studio.name} is created: add its members below.`);
      location.assign(`/console/admin/studios?studio=${studio.id}`);
    },
    { label: "Create studio", id: "new-studio" },
  );
  const details = selected ? await studioDetails(selected) : null;
  clear(body, h("h2", {}, `Studios (${studios.length})`), list, details, h("h2", {}, "New studio"), create);
}

const AUTH_MODES = [
  ["PASSWORD_OR_SSO", "Password or single sign-on"],
  ["SSO_ONLY", "Single sign-on only"],
];
const authModeText = (mode) => (AUTH_MODES.find(([key]) => key === mode) || [mode, mode])[1];
const splitList = (text) => text.split(",").map((part) => part.trim()).filter(Boolean);

async function studioDetails(studio) {
  const base = `/studios/${studio.id}`;
  const [members, quotas, users, groups] = await Promise.all([
    all(`${base}/members`), api("GET", `${base}/quotas`), all("/users"), all("/groups"),
  ]);
  return h("section", { id: "studio-details" },
    h("h2", {}, `Studio ${studio.name}`),
    h("dl", { class: "facts" },
      h("dt", {}, "Id"), h("dd", {}, h("code", {}, studio.id)),
      h("dt", {}, "Storage"), h("dd", {}, h("code", {}, studio.storage_location)),
      h("dt", {}, "Networks"), h("dd", {}, studio.networks.join(", ")),
      h("dt", {}, "Created"), h("dd", {}, when(studio.created_at))),
    h("div", { class: "row-actions start" },
      link(`/console/studios/${studio.id}/workspaces`, "Open the studio", { class: "button" }),
      link(`/console/studios/${studio.id}/usage`, "Usage", { class: "button" })),
    h("h3", {}, "Settings"),
    settingsForm(studio),
    h("h3", {}, "Members"),
    membersTable(studio, members),
    addMemberForm(studio, members, users, groups),
    h("h3", {}, "Cluster quotas"),
    quotasSection(studio, quotas),
    h("h3", {}, "Sign-in of members"),
    authModeForm(studio));
}

function settingsForm(studio) {
  return form(
    [
      { name: "description", label: "Description", value: studio.description },
      { name: "storage_location", label: "Storage location", value: studio.storage_location },
      { name: "networks", label: "Networks", value: studio.networks.join(", "), help: "Comma-separated." },
    ],
    async (values) => {
      const networks = splitList(values.networks);
      await retarget(networkError(networks), () => api("PATCH", `/studios/${studio.id}`, {
        description: values.description, storage_location: values.storage_location.trim(), networks,
      }));
      reload(`The settings of ${studio.name} are saved.`);
    },
    { label: "Save settings", id: "studio-settings" },
  );
}

/** "networks.1" is the second network of the list: say which one. */
const networkError = (networks) => (f) => {
  const [field, index] = String(f.field).split(".");
  return field === "networks" && index !== undefined ? { field, message: `"${networks[index]}": ${f.message}` } : f;
};

function membersTable(studio, members) {
  const path = (m) => `/studios/${studio.id}/members/${m.id}`;
  return table(
    [
      ["Member", (m) => h("span", { "data-member": m.principal_name }, m.principal_name)],
      ["Kind", (m) => (m.principal_type === "GROUP" ? "group" : "user")],
      ["Role", (m) => roleSelect(m, path(m))],
      ["Session policy", (m) => (m.session_policy ? "narrowed by a policy" : "—")],
      ["Since", (m) => when(m.created_at)],
      ["", (m) => h("div", { class: "row-actions" }, button("Remove", async () => {
        await api("DELETE", path(m));
        reload(`${m.principal_name} is no longer a member of ${studio.name}.`);
      }, { kind: "danger", id: `remove-${m.principal_name}`, confirmText: `Remove ${m.principal_name} from ${studio.name}?` }))],
    ],
    members,
    { id: "members", empty: "No members yet: only platform admins can open this studio. Add a user or a group below." },
  );
}

/** Changing the select changes the role at once (and says so). */
function roleSelect(member, path) {
  const select = h("select", { class: "inline-select", "aria-label": `Role of ${member.principal_name}`, id: `role-${member.principal_name}` },
    ["ADMIN", "DEVELOPER"].map((role) => h("option", { value: role, selected: role === member.role }, role)));
  select.addEventListener("change", async () => {
    select.disabled = true;
    try {
      await api("PATCH", path, { role: select.value });
      flash(`${member.principal_name} is now ${select.value} of the studio.`);
    } catch (error) {
      select.value = member.role;
      flash(errorText(error), "error");
    } finally {
      select.disabled = false;
    }
  });
  return select;
}

function addMemberForm(studio, members, users, groups) {
  const taken = new Set(members.map((m) => `${m.principal_type}:${m.principal_name}`));
  const choices = [
    ...users.filter((u) => !taken.has(`USER:${u.name}`)).map((u) => [`user:${u.name}`, `${userLabel(u)} — user`]),
    ...groups.filter((g) => !taken.has(`GROUP:${g.name}`)).map((g) => [`group:${g.name}`, `${g.name} — group`]),
  ];
  if (!choices.length) return h("p", { class: "empty" }, "Every user and group is already a member.");
  return form(
    [
      { name: "principal", label: "Add a user or a group", type: "select", choices },
      { name: "role", label: "Role", type: "select", choices: [["DEVELOPER", "DEVELOPER: workspaces, clusters from shared templates"], ["ADMIN", "ADMIN: everything in the studio"]], value: "DEVELOPER" },
    ],
    async (values) => {
      const [kind, name] = values.principal.split(/:(.*)/s);
      await retarget((f) => (f.field === kind ? { ...f, field: "principal" } : f), () =>
        api("POST", `/studios/${studio.id}/members`, { [kind]: name, role: values.role }));
      reload(`${name} is now ${values.role} of ${studio.name}.`);
    },
    { label: "Add member", id: "add-studio-member" },
  );
}

function quotasSection(studio, quotas) {
  const limit = (value, unit = "") => (value === null ? "no limit" : `${value}${unit}`);
  const panel = (label, used, max, unit) => h("div", { class: "panel" },
    h("div", { class: "value" }, `${used}${unit}`),
    h("div", { class: "label" }, `${label} in use, of ${limit(max, unit)}`));
  const edit = form(
    [
      { name: "max_clusters", label: "Most clusters not terminated", type: "number", min: 0, step: 1, value: quotas.max_clusters },
      { name: "max_cores", label: "Most cores (each cluster counted at its largest size)", type: "number", min: 0, step: 1, value: quotas.max_cores },
      { name: "max_memory_mib", label: "Most memory (MiB)", type: "number", min: 0, step: 1, value: quotas.max_memory_mib },
    ],
    async (values) => {
      // PUT replaces every limit: an empty field means no limit.
      const payload = {};
      for (const [key, value] of Object.entries(values)) if (value !== undefined) payload[key] = value;
      await api("PUT", `/studios/${studio.id}/quotas`, payload);
      reload(`The quotas of ${studio.name} are saved.`);
    },
    { label: "Save quotas", id: "quotas" },
  );
  return [
    h("div", { class: "panels", id: "quota-use" },
      panel("Clusters", quotas.clusters, quotas.max_clusters, ""),
      panel("Cores", quotas.cores, quotas.max_cores, ""),
      panel("Memory", quotas.memory_mib, quotas.max_memory_mib, " MiB")),
    h("p", { class: "help" }, "Leave a field empty for no limit. Launches over a limit are refused before anything starts."),
    edit,
  ];
}

function authModeForm(studio) {
  return form(
    [{ name: "auth_mode", label: "Members may sign in with", type: "select", choices: AUTH_MODES, value: studio.auth_mode,
       help: "Single sign-on only refuses the password sign-ins of the studio's members; it needs an OpenID Connect provider." }],
    async (values) => {
      await api("PATCH", `/studios/${studio.id}`, { auth_mode: values.auth_mode });
      reload(`${studio.name}: members sign in with ${authModeText(values.auth_mode).toLowerCase()}.`);
    },
    { label: "Save", id: "auth-mode" },
  );
}

// ---------------------------------------------------------------- templates

async function templatesTab(body, ctx) {
  const [summaries, studios] = await Promise.all([all("/templates"), all("/studios")]);
  // The list gives only the latest version; each template's details give versions and shares.
  const details = await Promise.all(summaries.map((t) => api("GET", `/templates/${enc(t.name)}`)));
  const studioName = new Map(studios.map((s) => [s.id, s.name]));
  const names = (ids) => (ids.length ? ids.map((id) => studioName.get(id) || id).join(", ") : h("span", { class: "help" }, "no studio"));
  const list = table(
    [
      ["Name", (t) => link(`?template=${enc(t.name)}`, t.name, { "data-template": t.name })],
      ["Description", (t) => t.description || "—"],
      ["Latest", (t) => `v${t.latest_version}`],
      ["Versions", (t) => t.versions.length],
      ["Shared with", (t) => names(t.shared_with)],
      ["Updated", (t) => when(t.updated_at)],
    ],
    details,
    { id: "templates", empty: "No templates yet: publish one below." },
  );
  const chosen = details.find((t) => t.name === ctx.query.get("template"));
  const version = Number(ctx.query.get("version")) || null;
  const shown = chosen ? await api("GET", `/templates/${enc(chosen.name)}${version ? `?version=${version}` : ""}`) : null;
  clear(body, h("h2", {}, `Templates (${details.length})`), list,
    shown ? templateDetails(shown, studios, studioName) : null,
    h("h2", {}, chosen ? `Publish a new version of ${chosen.name}` : "Publish a template"),
    publishForm(chosen));
}

function templateDetails(t, studios, studioName) {
  const base = `/templates/${enc(t.name)}`;
  const versions = h("nav", { class: "versions", "aria-label": "Versions" }, "Versions: ",
    t.versions.slice().sort((a, b) => b - a).map((v) => link(`?template=${enc(t.name)}&version=${v}`, `v${v}`, {
      class: v === t.version ? "current" : null, "aria-current": v === t.version ? "page" : null })));
  const shares = table(
    [
      ["Studio", ({ id }) => studioName.get(id) || id],
      ["", ({ id }) => h("div", { class: "row-actions" }, button("Unshare", async () => {
        await api("DELETE", `${base}/shares/${id}`);
        reload(`${t.name} is no longer shared with ${studioName.get(id) || id}; its running clusters keep running.`);
      }, { id: `unshare-${studioName.get(id) || id}`, confirmText: "Stop new launches from this template in the studio?" }))],
    ],
    t.shared_with.map((id) => ({ id })),
    { id: "template-shares", empty: "Not shared: no studio can launch clusters from it yet." },
  );
  const others = studios.filter((s) => !t.shared_with.includes(s.id));
  const share = others.length
    ? form([{ name: "studio", label: "Share with a studio", type: "select", choices: others.map((s) => [s.id, s.name]) }],
        async (values) => {
          await api("PUT", `${base}/shares/${values.studio}`);
          reload(`${t.name} is shared with ${studioName.get(values.studio)}.`);
        }, { label: "Share", id: "share-template" })
    : h("p", { class: "empty" }, "Shared with every studio.");
  return h("section", { id: "template-details" },
    h("h2", {}, `Template ${t.name} v${t.version}`),
    versions,
    h("dl", { class: "facts" },
      h("dt", {}, "Description"), h("dd", {}, t.description || "—"),
      h("dt", {}, "Published by"), h("dd", {}, t.published_by || "—"),
      h("dt", {}, "Latest version"), h("dd", {}, `v${t.latest_version}`)),
    h("h3", {}, "Parameters"),
    table(
      [
        ["Name", (p) => h("code", {}, p.name)],
        ["Label", (p) => p.label],
        ["Type", (p) => p.type],
        ["Default", (p) => (p.default === null ? "—" : String(p.default))],
        ["Allowed", (p) => allowed(p)],
      ],
      t.parameters,
      { id: "template-parameters", empty: "No parameters: it launches as written." },
    ),
    h("h3", {}, `Text of v${t.version}`),
    h("pre", { id: "template-body" }, t.body),
    h("h3", {}, "Shared with"),
    shares,
    share);
}

function allowed(p) {
  if (p.allowed_values) return p.allowed_values.join(", ");
  if (p.min !== null || p.max !== null) return `${p.min ?? "…"} to ${p.max ?? "…"}`;
  return "—";
}

function publishForm(chosen) {
  return form(
    [{ name: "body", label: "Template YAML", type: "textarea", rows: 16, value: chosen ? chosen.body : "",
       placeholder: "name: my-template\ndescription: …\nparameters: …",
       help: "Its 'name' says which template this versions. It is checked (references, every parameter choice) before anything is stored." }],
    async (values) => {
      // Problems in the text answer 422 naming the place in the text: show them at the text box.
      const published = await retarget((f) => ({ field: "body", message: placeIn(f) }),
        () => api("POST", "/templates", { body: values.body }));
      sessionStorage.setItem("flash", `Published ${published.name} v${published.version}.`);
      location.assign(`/console/admin/templates?template=${enc(published.name)}`);
    },
    { label: "Publish", id: "publish-template" },
  );
}

// "template: line 2, column 8: …" needs no prefix; a field inside the text does.
const placeIn = (f) => (["body", "template", ""].includes(f.field || "") ? f.message : `${f.field}: ${f.message}`);
