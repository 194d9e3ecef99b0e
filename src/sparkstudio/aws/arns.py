"""Amazon Resource Names for what the AWS adapters answer.

A studio plays the part of an AWS account: its account id is 12 digits derived from the
studio's id (stable, and different for each studio), so an ARN names its studio as an
AWS ARN names its account. The region is the one the request was signed for.
"""

from __future__ import annotations

import hashlib


def account_id(studio_id: str) -> str:
    digest = hashlib.sha256(studio_id.encode()).digest()
    return f"{int.from_bytes(digest[:8], 'big') % 10**12:012d}"


def application_arn(region: str, studio_id: str, application_id: str) -> str:
    return f"arn:aws:emr-serverless:{region}:{account_id(studio_id)}:/applications/{application_id}"
