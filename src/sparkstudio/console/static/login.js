// The sign-in page: a password form, and a link per single sign-on provider.

import { api, clear, form, h, link } from "./lib.js";

function nextPage() {
  const next = new URLSearchParams(location.search).get("next") || "/console";
  // Only a path of this site: never an address elsewhere.
  return /^\/(?!\/)[^\\]*$/.test(next) ? next : "/console";
}

async function start() {
  const app = document.getElementById("app");
  const providers = await fetch("/api/v1/auth/providers", { headers: { Accept: "application/json" } })
    .then((r) => (r.ok ? r.json() : []))
    .catch(() => []);
  const list = Array.isArray(providers) ? providers : [];
  const password = form(
    [
      { name: "username", label: "User name", required: true, autocomplete: "username" },
      { name: "password", label: "Password", type: "password", required: true, autocomplete: "current-password" },
    ],
    async (values) => {
      const body = { username: values.username, password: values.password, session_cookie: true };
      await api("POST", "/auth/login", body, { signInOn401: false });
      location.assign(nextPage());
    },
    { label: "Sign in", id: "login" },
  );
  const sso = list.length
    ? h(
        "section",
        { class: "sso" },
        h("h2", {}, "Or sign in with"),
        h(
          "ul",
          {},
          list.map((p) =>
            h("li", {}, link(`${p.login_url}?next=${encodeURIComponent(nextPage())}`, p.display_name || p.name, { class: "button" })),
          ),
        ),
      )
    : null;
  clear(
    app,
    h(
      "div",
      { class: "login" },
      h("h1", {}, h("span", { class: "brand" }, "sparkstudio"), " · Sign in"),
      password,
      sso,
    ),
  );
  document.getElementById("field-login-username").focus();
}

start();
