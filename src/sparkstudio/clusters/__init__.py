"""Running clusters: the reconciler's cluster handler and the runtime the API talks to."""
