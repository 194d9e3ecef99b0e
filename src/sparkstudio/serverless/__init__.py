"""Serverless applications: warm Spark capacity with caps, started and stopped on demand."""
