"""HTTP API under /api/v1: routers own the transaction; every route declares its action."""
