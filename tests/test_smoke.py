from tests.conftest import Run


def test_set_then_get_round_trips(cli, sm) -> None:
    created: Run = cli("set", "dev/api/key", "--stdin", input="hello\n")
    assert created.code == 0, created.stderr
    got = cli("get", "dev/api/key")
    assert got.stdout_bytes == b"hello"
    assert sm.get_secret_value(SecretId="dev/api/key")["SecretString"] == "hello"


def test_set_under_lost_replies_makes_one_version(cli, sm, proxy) -> None:
    proxy.faults.lose_reply_rate = 1.0
    proxy.faults.lose_reply_actions = {"secretsmanager.CreateSecret"}
    # Every first CreateSecret reply is lost; botocore retries with the same token.
    proxy.random.seed(1)
    first = cli("set", "dev/api/key", "--stdin", input="v1")
    assert first.code == 6 or first.code == 0
