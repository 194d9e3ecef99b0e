"""AWS wire-protocol adapters: AWS SDKs and CLIs talk to sparkstudio as they talk to AWS.

:mod:`sparkstudio.aws.sigv4` authenticates their requests (AWS Signature Version 4) and
renders refusals the way AWS services answer them.
"""
