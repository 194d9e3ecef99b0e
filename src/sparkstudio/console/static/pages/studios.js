// The studio picker: the studios the user belongs to (every studio for a platform admin).
// With one studio, it opens that studio's workspaces at once.

import { clear, h, link, table } from "../lib.js";

export async function render(ctx) {
  const { main, studios } = ctx;
  if (studios.length === 1 && !ctx.query.has("pick")) {
    location.replace(`/console/studios/${studios[0].studio_id}/workspaces`);
    return;
  }
  clear(
    main,
    h("h1", {}, "Your studios"),
    table(
      [
        ["Studio", (s) => link(`/console/studios/${s.studio_id}/workspaces`, s.studio_name)],
        ["Your role", (s) => s.roles.join(", ")],
      ],
      studios,
      {
        id: "studios",
        empty: "You belong to no studio yet: ask an admin to add you to your team's studio.",
      },
    ),
  );
}
