"""The studio's web console: pages served by the control plane, run in the browser on
the same JSON API as the CLI (no build step, nothing fetched from elsewhere)."""
