"""Headless notebook executions on a cluster or a serverless application."""
