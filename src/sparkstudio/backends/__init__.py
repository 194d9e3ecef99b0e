"""Compute backends: plug-ins that start, observe, scale and stop Spark clusters."""
