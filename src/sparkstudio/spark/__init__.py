"""Spark on this host: where it is (the pyspark wheel), the Java it needs, process launch."""
