"""Amazon Resource Names for what the AWS adapters answer.

A studio plays the part of an AWS account: its account id is 12 digits derived from the
studio's id (stable, and different for each studio), so an ARN names its studio as an
AWS ARN names its account. The region is the one the request was signed for.
"""

from __future__ import annotations

import hashlib
import re


def account_id(studio_id: str) -> str:
    digest = hashlib.sha256(studio_id.encode()).digest()
    return f"{int.from_bytes(digest[:8], 'big') % 10**12:012d}"


def application_arn(region: str, studio_id: str, application_id: str) -> str:
    return f"arn:aws:emr-serverless:{region}:{account_id(studio_id)}:/applications/{application_id}"


def job_run_arn(region: str, studio_id: str, application_id: str, job_run_id: str) -> str:
    return f"{application_arn(region, studio_id, application_id)}/jobruns/{job_run_id}"


def user_arn(studio_id: str, user_name: str) -> str:
    """The IAM-style ARN of a user of the studio (``createdBy``)."""
    name = re.sub(r"[^\w+=,.@-]", "_", user_name) or "_"
    return f"arn:aws:iam::{account_id(studio_id)}:user/{name}"
