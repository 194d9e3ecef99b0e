"""PySpark scripts the job-run tests submit."""

FAILS = """
from pyspark.sql import SparkSession
spark = SparkSession.builder.getOrCreate()
spark.sql("SELECT 1").collect()
raise ValueError("the input has no header row")
"""

SLEEPS = """
import time
from pyspark.sql import SparkSession
spark = SparkSession.builder.getOrCreate()
spark.range(1).collect()
print("sleeping", flush=True)
time.sleep(600)
"""
