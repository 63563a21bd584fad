"""envsecrets: the `secrets` command-line tool for AWS Secrets Manager."""

__version__ = "0.1.0"
