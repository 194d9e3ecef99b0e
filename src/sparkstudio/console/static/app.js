// The console: reads the address, draws the frame (studio, sections, who is signed in)
// and hands the page to the module that renders it. Links are plain links: each page is
// a real address, so reloading and the back button work.

import { api, all, button, clear, errorText, flash, h, link } from "./lib.js";

// [pattern, module, section]: the first pattern that matches the path renders the page.
const ROUTES = [
  ["/console", "studios", null],
  ["/console/studios/:studio", "workspaces", "workspaces"],
  ["/console/studios/:studio/workspaces", "workspaces", "workspaces"],
  ["/console/studios/:studio/clusters", "clusters", "clusters"],
  ["/console/studios/:studio/clusters/new", "cluster_new", "clusters"],
  ["/console/studios/:studio/clusters/:cluster", "cluster", "clusters"],
  ["/console/studios/:studio/serverless", "applications", "serverless"],
  ["/console/studios/:studio/serverless/:application", "application", "serverless"],
  ["/console/studios/:studio/serverless/:application/runs/:run", "job_run", "serverless"],
  ["/console/studios/:studio/notebooks", "notebooks", "notebooks"],
  ["/console/studios/:studio/notebooks/:execution", "notebook", "notebooks"],
  ["/console/studios/:studio/schedules", "schedules", "schedules"],
  ["/console/studios/:studio/schedules/:schedule", "schedule", "schedules"],
  ["/console/studios/:studio/usage", "usage", "usage"],
  ["/console/admin", "admin", "admin"],
  ["/console/admin/:tab", "admin", "admin"],
];

const SECTIONS = [
  ["workspaces", "Workspaces"],
  ["clusters", "Clusters"],
  ["serverless", "Serverless"],
  ["notebooks", "Notebook runs"],
  ["schedules", "Schedules"],
  ["usage", "Usage"],
];

function match(path) {
  const parts = path.replace(/\/+$/, "").split("/");
  for (const [pattern, module, section] of ROUTES) {
    const want = pattern.split("/");
    if (want.length !== parts.length) continue;
    const params = {};
    const ok = want.every((piece, i) => {
      if (piece.startsWith(":")) {
        params[piece.slice(1)] = decodeURIComponent(parts[i]);
        return true;
      }
      return piece === parts[i];
    });
    if (ok) return { module, section, params };
  }
  return null;
}

/** The studios the signed-in user may open: every studio for a platform admin. */
export async function studiosOf(me) {
  if (me.user.is_platform_admin) {
    const studios = await all("/studios");
    return studios.map((s) => ({ studio_id: s.id, studio_name: s.name, roles: ["ADMIN"] }));
  }
  return me.studios;
}

function frame(me, studio, studios, section) {
  const user = me.user;
  const studioPicker = studio
    ? h(
        "nav",
        { class: "studio", "aria-label": "Studio" },
        h("span", { class: "label" }, "Studio"),
        studios.length > 1
          ? link("/console", studio.name, { id: "studio-name", title: "Switch studio" })
          : h("strong", { id: "studio-name" }, studio.name),
      )
    : null;
  const sections = studio
    ? h(
        "nav",
        { class: "sections", "aria-label": "Sections" },
        SECTIONS.map(([key, text]) =>
          link(`/console/studios/${studio.id}/${key}`, text, {
            class: key === section ? "current" : null,
            "aria-current": key === section ? "page" : null,
          }),
        ),
      )
    : null;
  const signOut = button("Sign out", async () => {
    await api("POST", "/auth/logout");
    location.assign("/console/login");
  }, { kind: "link", id: "sign-out" });
  return h(
    "div",
    { class: "frame" },
    h(
      "header",
      {},
      link("/console", "sparkstudio", { class: "brand" }),
      studioPicker,
      sections,
      h(
        "div",
        { class: "user" },
        user.is_platform_admin ? link("/console/admin", "Admin", { class: section === "admin" ? "current" : null }) : null,
        h("span", { id: "user-name", title: user.email || "" }, user.display_name || user.name),
        signOut,
      ),
    ),
    h("div", { id: "flash" }),
    h("main", { id: "main" }),
  );
}

function notFound(main, path) {
  clear(main, h("h1", {}, "Not found"), h("p", {}, `There is no console page at ${path}.`), link("/console", "Back to your studios"));
}

async function start() {
  const app = document.getElementById("app");
  const route = match(location.pathname);
  let me;
  try {
    me = await api("GET", "/me");
  } catch (error) {
    clear(app, h("p", { class: "flash error" }, errorText(error)));
    return;
  }
  let studio = null;
  let studios = [];
  if (route && route.params.studio) {
    try {
      studio = await api("GET", `/studios/${encodeURIComponent(route.params.studio)}`);
    } catch (error) {
      // Another studio's address shows nothing of it: the same page as an unknown one.
      clear(app, frame(me, null, [], null));
      notFound(document.getElementById("main"), location.pathname);
      flash(errorText(error), "error");
      return;
    }
  }
  studios = await studiosOf(me).catch(() => me.studios);
  clear(app, frame(me, studio, studios, route ? route.section : null));
  const main = document.getElementById("main");
  if (!route) {
    notFound(main, location.pathname);
    return;
  }
  const ctx = {
    me,
    studio,
    studios,
    params: route.params,
    query: new URLSearchParams(location.search),
    main,
    role: studio ? roleIn(me, studios, studio.id) : null,
  };
  try {
    const page = await import(`./pages/${route.module}.js`);
    await page.render(ctx);
  } catch (error) {
    clear(main, h("h1", {}, "Something went wrong"), h("p", { class: "flash error" }, errorText(error)));
    console.error(error);
  }
  const message = sessionStorage.getItem("flash");
  if (message) {
    sessionStorage.removeItem("flash");
    flash(message);
  }
}

function roleIn(me, studios, studioId) {
  if (me.user.is_platform_admin) return "ADMIN";
  const entry = studios.find((s) => s.studio_id === studioId);
  return entry && entry.roles.includes("ADMIN") ? "ADMIN" : entry && entry.roles.length ? entry.roles[0] : null;
}

document.title = "sparkstudio";
start();
