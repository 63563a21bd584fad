"""BatchGetSecretValue needs its own permission ("secretsmanager:BatchGetSecretValue, and you
must have secretsmanager:GetSecretValue for each secret"). A role without it can still read
one secret at a time: bulk reads fall back to GetSecretValue with a one-line note instead of
failing, and `doctor` probes the batch permission. IAM is not enforced by the emulator: the
fault proxy answers AccessDeniedException as IAM would."""

from __future__ import annotations

from tests.conftest import write_config

BATCH = "secretsmanager.BatchGetSecretValue"
GET = "secretsmanager.GetSecretValue"
NOTE = "BatchGetSecretValue is denied"


def test_diff_reads_one_secret_at_a_time_when_batches_are_denied(cli, sm, proxy) -> None:
    for env, values in (("dev", ("same", "old")), ("prod", ("same", "new"))):
        for key, value in zip(("a", "b"), values, strict=True):
            sm.create_secret(Name=f"{env}/api/{key}", SecretString=value)
    for n in range(25):  # more than one batch of 20 on the dev side
        sm.create_secret(Name=f"dev/many/key-{n:02d}", SecretString=f"v{n}")
    proxy.deny(BATCH)
    proxy.reset_counts()
    run = cli("diff", "dev", "prod", "--json")
    assert run.code == 1, run.stderr
    counts = run.json()["counts"]
    assert (counts["same"], counts["differs"], counts["only_in_a"]) == (1, 1, 25)
    # One line per environment, however many batches were refused.
    assert run.stderr.count(NOTE) == 2
    assert "[dev]" in run.stderr and "[prod]" in run.stderr
    assert proxy.calls[GET] == 27 + 2


def test_bulk_rotation_plans_with_single_reads_when_batches_are_denied(cli, sm, proxy) -> None:
    for n in range(3):
        sm.create_secret(Name=f"dev/api/key-{n}", SecretString=f"old-{n}")
    proxy.deny(BATCH)
    run = cli("rotate", "--env", "dev", "--older-than", "0", "--generate", "--yes", "--json")
    assert run.code == 0, run.stderr
    assert len(run.json()["rotated"]) == 3
    assert run.stderr.count(NOTE) == 1


def test_a_single_read_refused_is_that_secrets_error(sm, proxy) -> None:
    from envsecrets.backends.aws import AwsTarget
    from envsecrets.backends.secretsmanager import SecretsManagerStore

    sm.create_secret(Name="dev/a", SecretString="v")
    notes: list[str] = []
    store = SecretsManagerStore(AwsTarget(label="dev"), notify=notes.append)
    proxy.deny(BATCH)
    read = store.read_many(["dev/a", "dev/missing"])
    assert read.values["dev/a"].value.text() == "v"
    assert read.errors == {"dev/missing": "ResourceNotFoundException"}
    assert len(notes) == 1


def test_doctor_probes_batch_reads(cli, aws_env, proxy) -> None:
    write_config(aws_env, "[environments.dev]\n")
    allowed = cli("doctor", "--json")
    checks = {c["check"]: c for c in allowed.json()["checks"]}
    assert checks["batch read"]["status"] == "ok", checks["batch read"]
    proxy.deny(BATCH)
    run = cli("doctor", "--json")
    checks = {c["check"]: c for c in run.json()["checks"]}
    assert checks["read"]["status"] == "ok"  # GetSecretValue alone is allowed...
    assert checks["batch read"]["status"] == "warn"  # ...batches are not: said, not fatal
    assert "secretsmanager:BatchGetSecretValue" in checks["batch read"]["detail"]
    assert run.code == 0, run.stdout
