"""Workspace servers: start, watch, stop them and proxy users to them."""
