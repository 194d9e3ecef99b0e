"""Job runs on real Spark through an unmodified boto3 ``emr-serverless`` client.

One small application (a driver and one executor worker of 1 vCPU and 1 GB) is created
and started through boto3 and serves the whole module; its studio keeps its files in the
tests' S3-compatible server, where the scripts, the input and the kept logs are. Queueing
beyond ``maxConcurrentRuns`` and the classic (spark-submit) runtime are covered by the
native API's tests (tests/spark/test_job_runs.py): the wire adapter adds nothing there.
"""

from __future__ import annotations

import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from sparkstudio.db.base import utcnow
from sparkstudio.db.models import JobRun
from sparkstudio.db.session import Database
from sparkstudio.server import ControlPlane
from sparkstudio.serverless.releases import supported_release_labels
from sparkstudio.spark import processes
from sparkstudio.spark.processes import ProcessRecord
from tests.integration.test_aws_keys import aws_error, create_pair, emr_serverless
from tests.s3 import S3Server
from tests.spark.job_scripts import FAILS, SLEEPS
from tests.support import UserClient, create_studio, unique

pytestmark = pytest.mark.spark

ROLE = "arn:aws:iam::123456789012:role/EMRServerlessJobRole"
STUDIO_PREFIX = "studio"  # the studio's storage: s3://<bucket>/studio
TINY_WORKER = {"cpu": "1 vCPU", "memory": "1 GB"}
ENDED = {"SUCCESS", "FAILED", "CANCELLED"}

# The input is read and the output written with boto3 (this platform's Spark has no S3
# connector, and a job's sandbox sees no folder of the host but its studio's file storage);
# the counting is Spark's (DataFrame API). A job brings its own credentials for the store
# (the platform gives its runs none; here the tests' server's fake ones, as arguments).
WORD_COUNT = """
import json
import sys
import boto3
from pyspark.sql import SparkSession, functions as F

endpoint, key_id, secret, bucket, key, output = sys.argv[1:7]
s3 = boto3.client(
    "s3",
    endpoint_url=endpoint,
    region_name="us-east-1",
    aws_access_key_id=key_id,
    aws_secret_access_key=secret,
)
text = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
spark = SparkSession.builder.appName("word count").getOrCreate()
lines = spark.createDataFrame([(line,) for line in text.splitlines()], ["value"])
words = lines.select(F.explode(F.split(F.col("value"), r"\\s+")).alias("word"))
counts = words.where(F.col("word") != "").groupBy("word").count().orderBy("word")
rows = counts.collect()
for row in rows:
    print(f"{row['word']}={row['count']}")
body = "\\n".join(json.dumps(row.asDict()) for row in rows)
s3.put_object(Bucket=bucket, Key=f"{output}/part-00000.json", Body=body.encode())
"""


@dataclass(frozen=True)
class Aws:
    emr: Any
    admin: UserClient
    database: Database
    s3: S3Server
    bucket: str
    studio: dict[str, Any]
    application_id: str

    def script(self, name: str, text: str) -> str:
        key = f"{STUDIO_PREFIX}/jobs/{name}"  # in the studio's storage
        self.s3.client().put_object(Bucket=self.bucket, Key=key, Body=textwrap.dedent(text))
        return f"s3://{self.bucket}/{key}"

    def start(self, entry_point: str, *args: str, **fields: Any) -> str:
        run_id: str = self.emr.start_job_run(
            applicationId=self.application_id,
            executionRoleArn=ROLE,
            jobDriver={
                "sparkSubmit": {"entryPoint": entry_point, "entryPointArguments": list(args)}
            },
            **fields,
        )["jobRunId"]
        return run_id

    def get(self, run_id: str) -> dict[str, Any]:
        run: dict[str, Any] = self.emr.get_job_run(
            applicationId=self.application_id, jobRunId=run_id
        )["jobRun"]
        return run

    def wait(self, run_id: str, states: set[str], timeout: float = 180) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            run = self.get(run_id)
            if run["state"] in states:
                return run
            assert run["state"] not in ENDED - states, (run["state"], run.get("stateDetails"))
            assert time.monotonic() < deadline, f"still {run['state']}: {run}"
            time.sleep(0.2)

    def log(self, run_id: str, stream: str = "stdout") -> str:
        path = (
            f"/studios/{self.studio['id']}/applications/{self.application_id}"
            f"/job-runs/{run_id}/logs"
        )
        response = self.admin.get(path, params={"stream": stream})
        return response.text if response.status_code == 200 else ""

    def wait_for_output(self, run_id: str, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log(run_id):
            assert time.monotonic() < deadline, f"no {text!r} in the run's stdout"
            time.sleep(0.2)

    def runner(self, run_id: str) -> ProcessRecord:
        with self.database.session(write=False) as db:
            row = db.get(JobRun, run_id)
            assert row is not None and row.state is not None
            return ProcessRecord.from_json(row.state["runner"])


@pytest.fixture(scope="module")
def aws(
    control_plane: ControlPlane, admin: UserClient, database: Database, s3_server: S3Server
) -> Iterator[Aws]:
    """A started application, driven through boto3 with the admin's key pair."""
    if not database.is_sqlite:
        pytest.skip("the metadata database plays no part in this: it runs once, on SQLite")
    bucket = s3_server.create_bucket()
    studio = create_studio(admin, storage_location=f"s3://{bucket}/{STUDIO_PREFIX}")
    emr = emr_serverless(control_plane, create_pair(admin, studio["id"]))
    application_id = emr.create_application(
        name=unique("aws-jobs"),
        releaseLabel=next(iter(supported_release_labels())),
        type="SPARK",
        initialCapacity={
            "DRIVER": {"workerCount": 1, "workerConfiguration": TINY_WORKER},
            "EXECUTOR": {"workerCount": 1, "workerConfiguration": TINY_WORKER},
        },
        maximumCapacity={"cpu": "3 vCPU", "memory": "6 GB"},
        autoStopConfiguration={"enabled": True, "idleTimeoutMinutes": 15},
    )["applicationId"]
    deadline = time.monotonic() + 60
    while emr.get_application(applicationId=application_id)["application"]["state"] != "CREATED":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    emr.start_application(applicationId=application_id)
    deadline = time.monotonic() + 180
    while True:
        state = emr.get_application(applicationId=application_id)["application"]["state"]
        if state == "STARTED":
            break
        assert state == "STARTING" and time.monotonic() < deadline, state
        time.sleep(0.5)
    yield Aws(emr, admin, database, s3_server, bucket, studio, application_id)
    emr.stop_application(applicationId=application_id)
    deadline = time.monotonic() + 120
    while emr.get_application(applicationId=application_id)["application"]["state"] != "STOPPED":
        assert time.monotonic() < deadline
        time.sleep(0.5)
    emr.delete_application(applicationId=application_id)


def test_a_word_count_reads_the_object_store_and_keeps_its_logs_there(aws: Aws) -> None:
    words = f"{STUDIO_PREFIX}/in/words.txt"
    aws.s3.client().put_object(
        Bucket=aws.bucket, Key=words, Body=b"to be or not to be\nthat is the question\n"
    )
    output = f"{STUDIO_PREFIX}/out/{unique('counts')}"
    log_uri = f"s3://{aws.bucket}/{STUDIO_PREFIX}/job-logs"  # a log location of the studio's
    run_id = aws.start(
        aws.script("word_count.py", WORD_COUNT),
        aws.s3.endpoint_url,
        aws.s3.access_key_id,
        aws.s3.secret_access_key,
        aws.bucket,
        words,
        output,
        name="word count",
        configurationOverrides={
            "monitoringConfiguration": {"s3MonitoringConfiguration": {"logUri": log_uri}}
        },
    )
    run = aws.wait(run_id, {"SUCCESS"})
    assert run["name"] == "word count" and run["attempt"] == 1
    assert run["endedAt"] >= run["startedAt"] >= run["createdAt"]
    assert run["totalExecutionDurationSeconds"] >= 0
    # Metered: a driver and an executor worker of 1 vCPU, each billed at least a minute.
    assert run["totalResourceUtilization"]["vCPUHour"] > 0
    assert run["billedResourceUtilization"]["vCPUHour"] >= round(2 * 60 / 3600, 5)
    assert set(run["billedResourceUtilization"]) == {"vCPUHour", "memoryGBHour", "storageGBHour"}
    assert run["configurationOverrides"] == {
        "monitoringConfiguration": {"s3MonitoringConfiguration": {"logUri": log_uri}}
    }
    assert f"{output}/part-00000.json" in aws.s3.keys(aws.bucket), "the job wrote its output"
    stdout = aws.log(run_id)
    assert "be=2" in stdout and "to=2" in stdout and "question=1" in stdout
    kept = (
        f"{STUDIO_PREFIX}/job-logs/applications/{aws.application_id}/jobs/{run_id}"
        "/attempts/1/SPARK_DRIVER/stdout"
    )
    deadline = time.monotonic() + 30  # copied there as the run ends
    while kept not in aws.s3.keys(aws.bucket) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert kept in aws.s3.keys(aws.bucket)
    body = aws.s3.client().get_object(Bucket=aws.bucket, Key=kept)["Body"].read().decode()
    assert "be=2" in body

    url = aws.emr.get_dashboard_for_job_run(applicationId=aws.application_id, jobRunId=run_id)[
        "url"
    ]
    assert url.startswith("http")
    [summary] = [
        r
        for r in aws.emr.list_job_runs(applicationId=aws.application_id, states=["SUCCESS"])[
            "jobRuns"
        ]
        if r["id"] == run_id
    ]
    assert summary["state"] == "SUCCESS"


def test_a_failing_job_says_why_and_a_client_token_submits_once(aws: Aws) -> None:
    script = aws.script("fails.py", FAILS)
    first = aws.start(script, clientToken="fails-once")
    assert aws.start(script, clientToken="fails-once") == first
    status, code, message = aws_error(
        lambda: aws.start(script + ".other", clientToken="fails-once")
    )
    assert (status, code) == (409, "ConflictException") and "fails-once" in message

    run = aws.wait(first, {"FAILED"})
    assert "ValueError: the input has no header row" in run["stateDetails"], run
    assert len(run["stateDetails"]) <= 256
    [attempt] = aws.emr.list_job_run_attempts(applicationId=aws.application_id, jobRunId=first)[
        "jobRunAttempts"
    ]
    assert (attempt["attempt"], attempt["state"]) == (1, "FAILED")
    assert "the input has no header row" in aws.log(first, "stderr")


def test_cancel_and_the_execution_timeout_end_running_jobs_and_their_processes(
    aws: Aws,
) -> None:
    script = aws.script("sleeps.py", SLEEPS)
    cancelled = aws.start(script)
    timed_out = aws.start(script, executionTimeoutMinutes=1)
    for run_id in (cancelled, timed_out):
        aws.wait(run_id, {"RUNNING"})
        aws.wait_for_output(run_id, "sleeping")
    runners = [aws.runner(cancelled), aws.runner(timed_out)]
    assert all(processes.is_alive(r) for r in runners)
    url = aws.emr.get_dashboard_for_job_run(applicationId=aws.application_id, jobRunId=cancelled)
    assert url["url"].startswith("http")  # the live UI while it runs

    answer = aws.emr.cancel_job_run(applicationId=aws.application_id, jobRunId=cancelled)
    assert (answer["applicationId"], answer["jobRunId"]) == (aws.application_id, cancelled)
    with aws.database.transaction() as db:  # a minute is long: it started two minutes ago
        row = db.get(JobRun, timed_out)
        assert row is not None and row.started_at is not None
        row.started_at = utcnow() - timedelta(minutes=2)

    run = aws.wait(cancelled, {"CANCELLED"}, timeout=60)
    assert "cancelled on request" in run["stateDetails"]
    run = aws.wait(timed_out, {"CANCELLED"}, timeout=60)
    assert "execution timeout of 1 min" in run["stateDetails"], run
    assert not [r for r in runners if processes.is_alive(r)]
    status, code, message = aws_error(
        lambda: aws.emr.cancel_job_run(applicationId=aws.application_id, jobRunId=cancelled)
    )
    assert (status, code) == (400, "ValidationException") and "CANCELLED" in message
