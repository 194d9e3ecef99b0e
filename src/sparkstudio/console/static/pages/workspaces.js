// Workspaces of a studio: list with status and attached cluster; create; open JupyterLab;
// start, stop, attach / detach / switch cluster, share, delete (with the purge choice).
// The list follows state changes live while a workspace starts or stops.

import { all, api, badge, button, clear, flash, form, h, link, live, table, when } from "../lib.js";

const SETTLED = new Set(["STOPPED", "READY", "ATTACHED", "IDLE"]);

export async function render(ctx) {
  const { main, studio } = ctx;
  const base = `/studios/${studio.id}`;
  const list = h("div", { id: "workspace-list" });
  const details = h("div", { id: "workspace-details" });
  let clusters = [];
  let selected = ctx.query.get("workspace");

  async function refresh() {
    const [workspaces, allClusters] = await Promise.all([
      all(`${base}/workspaces`),
      all(`${base}/clusters`, { active: "true" }),
    ]);
    clusters = allClusters;
    const names = new Map(clusters.map((c) => [c.id, c.name]));
    clear(
      list,
      table(
        [
          ["Name", (w) => link(`?workspace=${w.id}`, w.name, { "data-workspace": w.name })],
          ["Status", (w) => badge(w.status)],
          ["Cluster", (w) => (w.cluster_id ? names.get(w.cluster_id) || w.cluster_id : "—")],
          ["Owner", (w) => w.owner],
          ["Last activity", (w) => when(w.last_activity_at)],
          ["", (w) => actions(w)],
        ],
        workspaces,
        { id: "workspaces", empty: "No workspaces yet: create one below." },
      ),
    );
    const chosen = workspaces.find((w) => w.id === selected);
    if (chosen) await showDetails(chosen);
    return workspaces;
  }

  function actions(w) {
    const path = `${base}/workspaces/${w.id}`;
    const row = [];
    if (w.status === "STOPPED") {
      row.push(button("Start", async () => { await api("POST", `${path}/start`); await refresh(); }));
    } else if (w.status !== "STOPPING") {
      row.push(link(w.url, "Open JupyterLab", { class: "button primary", target: "_blank", rel: "noopener", "data-open": w.name }));
      row.push(button("Stop", async () => { await api("POST", `${path}/stop`); await refresh(); }));
    }
    return h("div", { class: "row-actions" }, row);
  }

  async function showDetails(w) {
    const path = `${base}/workspaces/${w.id}`;
    const usable = clusters.filter((c) => c.status === "RUNNING" || c.status === "WAITING");
    const shares = await api("GET", `${path}/shares`);
    const attach = usable.length
      ? form(
          [{ name: "cluster_id", label: w.cluster_id ? "Switch to cluster" : "Attach to cluster", type: "select",
             choices: usable.map((c) => [c.id, `${c.name} (${c.status})`]), value: w.cluster_id || "" }],
          async (values) => {
            await api("PUT", `${path}/attachment`, { cluster_id: values.cluster_id });
            flash(`Workspace ${w.name} is attached to the cluster.`);
            await refresh();
          },
          { label: w.cluster_id ? "Switch" : "Attach", id: "attach" },
        )
      : h("p", { class: "empty" }, "No cluster of this studio is RUNNING or WAITING: ", link(`/console/studios/${studio.id}/clusters/new`, "launch one"), ".");
    clear(
      details,
      h("h2", {}, `Workspace ${w.name}`),
      h("p", {}, badge(w.status), " ", w.status_reason.message || ""),
      h("h3", {}, "Cluster"),
      attach,
      w.cluster_id
        ? button("Detach", async () => { await api("DELETE", `${path}/attachment`); await refresh(); }, { id: "detach" })
        : null,
      h("h3", {}, "Shared with"),
      table([["User", (s) => s.user_name || s.user], ["", (s) => button("Unshare", async () => {
        await api("DELETE", `${path}/shares/${encodeURIComponent(s.user_name || s.user)}`);
        await refresh();
      })]], shares, { empty: "Only its owner can open it." }),
      form([{ name: "user", label: "Share with (a member's user name)", required: true }], async (values) => {
        await api("POST", `${path}/shares`, { user: values.user });
        flash(`Shared ${w.name} with ${values.user}.`);
        await refresh();
      }, { label: "Share", id: "share" }),
      h("h3", {}, "Delete"),
      w.status === "STOPPED"
        ? h("div", { class: "row-actions" },
            button("Delete, keep its files", async () => {
              await api("DELETE", path);
              location.assign(`/console/studios/${studio.id}/workspaces`);
            }, { kind: "danger", confirmText: `Delete workspace ${w.name}? Its files stay in the studio's storage.` }),
            button("Delete with its files", async () => {
              await api("DELETE", `${path}?purge=true`);
              location.assign(`/console/studios/${studio.id}/workspaces`);
            }, { kind: "danger", confirmText: `Delete workspace ${w.name} and all its files? This cannot be undone.` }))
        : h("p", { class: "help" }, "Stop the workspace to delete it."),
    );
  }

  const create = form(
    [
      { name: "name", label: "Name", required: true, help: "Letters, digits, '.', '_' and '-'; unique in the studio." },
      { name: "description", label: "Description" },
      { name: "idle_timeout_minutes", label: "Stop after idle (minutes)", type: "number", value: 60, min: 1, max: 10080 },
    ],
    async (values) => {
      const body = { name: values.name, description: values.description || "" };
      if (values.idle_timeout_minutes !== undefined) body.idle_timeout_seconds = Math.round(values.idle_timeout_minutes * 60);
      const created = await api("POST", `${base}/workspaces`, body);
      await api("POST", `${base}/workspaces/${created.id}/start`);
      selected = created.id;
      history.replaceState(null, "", `?workspace=${created.id}`);
      flash(`Workspace ${created.name} is starting.`);
      await refresh();
    },
    { label: "Create and start", id: "new-workspace" },
  );

  clear(main, h("h1", {}, "Workspaces"), list, details, h("h2", {}, "New workspace"), create);
  await refresh();
  live(refresh, 2);
}
