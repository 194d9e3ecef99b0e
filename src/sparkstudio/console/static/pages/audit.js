// The audit trail (a tab of the admin pages): who did what, to what, from where, when and
// with what outcome, newest first; filters are query parameters, so a filtered view is
// an address; the same filters export every matching record as JSON lines.

import { api, badge, clear, form, h, link, table, when } from "../lib.js";

const FILTERS = ["actor", "action", "studio_id", "outcome", "since", "until", "resource_prefix"];
const OUTCOMES = [["", "any"], ["SUCCEEDED", "SUCCEEDED"], ["FAILED", "FAILED"], ["DENIED", "DENIED"]];

export async function auditTab(body, ctx) {
  const given = new URLSearchParams();
  for (const name of FILTERS) {
    const value = ctx.query.get(name);
    if (value) given.set(name, value);
  }
  const query = new URLSearchParams(given);
  const before = ctx.query.get("next_token");
  if (before) query.set("next_token", before);
  query.set("limit", "100");
  const filters = form(
    [
      { name: "actor", label: "Who (user name)", value: given.get("actor") || "" },
      { name: "action", label: "Action", value: given.get("action") || "", placeholder: "workspace:Start" },
      { name: "outcome", label: "Outcome", type: "select", choices: OUTCOMES, value: given.get("outcome") || "" },
      { name: "studio_id", label: "Studio id", value: given.get("studio_id") || "" },
      { name: "since", label: "Since (UTC)", value: given.get("since") || "", placeholder: "2026-11-02T09:00:00Z" },
      { name: "until", label: "Until (UTC)", value: given.get("until") || "" },
      { name: "resource_prefix", label: "Resource starts with", value: given.get("resource_prefix") || "" },
    ],
    async (values) => {
      const next = new URLSearchParams();
      for (const name of FILTERS) if (values[name]) next.set(name, values[name]);
      // Checked by the API first, so a bad filter is shown next to its field.
      await api("GET", `/audit?${next}&limit=1`);
      location.assign(`/console/admin/audit?${next}`);
    },
    { label: "Filter", id: "audit-filter" },
  );
  const page = await api("GET", `/audit?${query}`);
  const rows = table(
    [
      ["When", (r) => when(r.at)],
      ["Who", (r) => r.actor_name || "—"],
      ["Action", (r) => h("code", {}, r.action)],
      ["Resource", (r) => h("code", {}, r.resource)],
      ["From", (r) => r.source_address],
      ["Outcome", (r) => badge(r.outcome)],
      ["Status", (r) => String(r.status_code)],
      ["Message", (r) => r.message],
    ],
    page.items,
    { id: "audit-records", empty: given.toString() ? "No record matches these filters." : "Nothing has been recorded yet." },
  );
  const more = page.next_token
    ? link(`/console/admin/audit?${new URLSearchParams({ ...Object.fromEntries(given), next_token: page.next_token })}`, "Older records →", { id: "audit-older" })
    : null;
  clear(
    body,
    h("p", { class: "help" }, "Every change attempted and every refused attempt, newest first. Records cannot be edited."),
    filters,
    h("p", {}, link(`/api/v1/audit/export?${given}`, "Export these records as JSON lines", { class: "button", id: "audit-export", download: "audit.jsonl" })),
    rows,
    more,
  );
}
