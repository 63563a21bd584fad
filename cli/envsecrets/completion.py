"""Dynamic shell completion: environments from secrets.toml, secret names from a names-only cache.

A TAB runs the whole CLI, so this module is imported by `envsecrets.commands.secret` and must
stay cheap: standard library and `envsecrets.core.config` only. boto3 is imported only when the
cache cannot answer, and then inside a thread that the TAB waits for at most `LOOKUP_TIMEOUT`
seconds.

The cache holds names, never values: one small JSON file per environment (and per way of reaching
it) under `$XDG_CACHE_HOME/envsecrets/names/` (or `~/.cache/...`), created 0600, refreshed by
`secrets list` and by a completion that found it older than `CACHE_TTL`.

Completion never prints and never fails: a broken secrets.toml, no network or no credentials give
fewer suggestions, not an error (the shell would paste an error into the command line).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

CACHE_TTL = 300.0  # seconds a names list is trusted before a TAB looks again
LOOKUP_TIMEOUT = 1.5  # the longest a TAB waits on AWS
CACHE_VERSION = 1


def cache_dir() -> Path:
    """`$XDG_CACHE_HOME/envsecrets/names`, or `~/.cache/envsecrets/names`."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "envsecrets" / "names"


def cache_key(config_path: Path | None, env: str, profile: str | None, region: str | None) -> str:
    """Which file holds `env`'s names: the same env name reached through another config file,
    profile, region or endpoint is another set of secrets."""
    import hashlib  # here, not at the top: every start-up imports this module

    parts = [
        str(config_path.resolve()) if config_path else "",
        env,
        profile or "",
        region or "",
        os.environ.get("AWS_PROFILE", ""),
        os.environ.get("AWS_ENDPOINT_URL", ""),
        os.environ.get("AWS_REGION", "") or os.environ.get("AWS_DEFAULT_REGION", ""),
    ]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:24]


def read_cache(key: str) -> tuple[list[str], float] | None:
    """The cached names and their age in seconds, or None when there is no usable file."""
    path = cache_dir() / f"{key}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("version") != CACHE_VERSION:
            return None
        names = [str(n) for n in data["names"]]
        return names, max(0.0, time.time() - float(data["written"]))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def write_cache(key: str, env: str, names: Iterable[str]) -> None:
    """Replace the names file atomically, mode 0600 (folder 0700). Errors are ignored: a cache
    that cannot be written only makes the next TAB slower."""
    import tempfile

    folder = cache_dir()
    payload = json.dumps(
        {"version": CACHE_VERSION, "env": env, "written": time.time(), "names": sorted(set(names))}
    )
    try:
        from envsecrets.core.files import make_private_folders

        make_private_folders(folder)
        fd, temp = tempfile.mkstemp(dir=folder, prefix=".names.", suffix=".tmp")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(payload)
            Path(temp).replace(folder / f"{key}.json")
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
    except OSError:
        pass


def remember_names(
    config_path: Path | None,
    env: str,
    profile: str | None,
    region: str | None,
    names: Iterable[str],
) -> None:
    """Record the complete list of `env`'s secret names (called by `secrets list`)."""
    prefix = f"{env}/"
    write_cache(
        cache_key(config_path, env, profile, region),
        env,
        (n for n in names if n.startswith(prefix)),
    )


# -- completers ------------------------------------------------------------------------------


def _root_options(ctx: Any) -> tuple[Path | None, str | None, str | None]:
    """--config, --profile and --region as typed before the command (parsed resiliently)."""
    try:
        params = ctx.find_root().params
    except AttributeError:
        return None, None, None
    config = params.get("config")
    return (
        Path(config) if config else None,
        params.get("profile") or None,
        params.get("region") or None,
    )


def complete_name(ctx: Any, incomplete: str) -> list[str]:
    """Typer autocompletion for a secret name: `pr` -> `prod/`, `prod/a` -> `prod/api/key`."""
    try:
        return _complete_name(ctx, incomplete)
    except Exception:  # a TAB must never show a traceback in the middle of a command line
        return []


def complete_env(ctx: Any, incomplete: str) -> list[str]:
    """Typer autocompletion for an environment name (diff, check, --env)."""
    try:
        from envsecrets.core.config import find_config, load_config

        explicit, _, _ = _root_options(ctx)
        config = load_config(find_config(Path.cwd(), explicit))
        return sorted(e for e in config.environments if e.startswith(incomplete))
    except Exception:
        return []


def complete_target(ctx: Any, incomplete: str) -> list[str]:
    """Completion for `secrets rotate --target`: the built-in kinds (`rds:`, `rds-cluster:`,
    `iam-user:`); the ID after the colon is the user's to type."""
    from envsecrets.core.rotation_targets import TARGET_KINDS

    return [f"{kind}:" for kind in TARGET_KINDS if f"{kind}:".startswith(incomplete)]


def complete_prefix(ctx: Any, incomplete: str) -> list[str]:
    """Completion for a prefix argument (`prod/`, `prod/api/`): environments, then folders."""
    names = complete_name(ctx, incomplete)
    folders = set()
    for name in names:
        if name.endswith("/"):
            folders.add(name)
            continue
        head, sep, _ = name.rpartition("/")
        if sep:
            folders.add(head + "/")
    return sorted(f for f in folders if f.startswith(incomplete))


def complete_scope_path(ctx: Any, incomplete: str) -> list[str]:
    """Completion for `--only`: paths below the command's SCOPE argument (`api/stripe-key`),
    and the folders on the way (`api/`)."""
    try:
        # While `--only`'s value is being typed, Click's resilient parse leaves the arguments
        # unassigned, in ctx.args.
        typed = [a for a in getattr(ctx, "args", ()) if not str(a).startswith("-")]
        scope = str(ctx.params.get("scope") or (typed[0] if typed else "")).strip("/")
        if not scope:
            return []
        prefix = scope + "/" if "/" in scope else f"{scope}/"
        found: set[str] = set()
        for name in complete_name(ctx, prefix + incomplete):
            if not name.startswith(prefix) or name == prefix:
                continue
            relative = name[len(prefix) :]
            found.add(relative)
            parts = relative.split("/")[:-1]
            found.update("/".join(parts[: i + 1]) + "/" for i in range(len(parts)))
        return sorted(p for p in found if p.startswith(incomplete))
    except Exception:  # a TAB must never show a traceback in the middle of a command line
        return []


def _complete_name(ctx: Any, incomplete: str) -> list[str]:
    from envsecrets.core.config import find_config, load_config

    explicit, profile, region = _root_options(ctx)
    config_path = find_config(Path.cwd(), explicit)
    config = load_config(config_path)
    env, sep, _ = incomplete.partition("/")
    if not sep:
        envs = sorted(e for e in config.environments if e.startswith(incomplete))
        if len(envs) != 1:
            return [f"{e}/" for e in envs]
        # One environment matches: offer its names at once, so that a single TAB does not stop
        # at "prod/ " (bash appends a space after a lone suggestion).
        env = envs[0]
    if config.environments and env not in config.environments:
        return []
    names = _names(config_path, config, env, profile, region)
    found = sorted(n for n in names if n.startswith(incomplete))
    return found or ([f"{env}/"] if not sep else [])


def _names(
    config_path: Path | None, config: Any, env: str, profile: str | None, region: str | None
) -> list[str]:
    """`env`'s names from the cache, or from a bounded lookup when the cache is old or absent."""
    key = cache_key(config_path, env, profile, region)
    cached = read_cache(key)
    if cached is not None and cached[1] < CACHE_TTL:
        return cached[0]
    looked_up = _bounded(lambda: _lookup(config, env, profile, region), LOOKUP_TIMEOUT)
    if looked_up is None:
        return cached[0] if cached is not None else []  # an old list beats none
    write_cache(key, env, looked_up)
    return looked_up


def _bounded(work: Callable[[], list[str]], timeout: float) -> list[str] | None:
    """Run `work` in a daemon thread and wait at most `timeout` seconds; None on timeout or
    failure. A thread still waiting on the network is abandoned: the process exits without it."""
    import threading

    box: dict[str, list[str]] = {}

    def run() -> None:
        with contextlib.suppress(Exception):
            box["names"] = work()

    thread = threading.Thread(target=run, name="complete-names", daemon=True)
    thread.start()
    thread.join(timeout)
    return box.get("names")


def _lookup(config: Any, env: str, profile: str | None, region: str | None) -> list[str]:
    """Ask the environment's store for its names, failing fast (one attempt, short timeouts)."""
    import logging

    # botocore logs retries and credential lookups; a TAB must print nothing.
    logging.getLogger("botocore").setLevel(logging.CRITICAL)
    os.environ["AWS_MAX_ATTEMPTS"] = "1"  # only this short-lived completion process is affected
    settings = config.environment(env)
    if settings.backend == "keyring":
        from envsecrets.backends.keyring_store import KeyringStore

        store: Any = KeyringStore(env)
    else:
        from envsecrets.backends.aws import AwsTarget
        from envsecrets.backends.secretsmanager import SecretsManagerStore

        target = AwsTarget(
            label=env,
            region=region or settings.region,
            profile=profile or settings.profile,
            role_arn=settings.role_arn,
            mfa_serial=settings.mfa_serial,
            mfa_code=None,  # never prompt from a TAB; a cached MFA session is used if there is one
        )
        store = SecretsManagerStore(target)
    return [m.name for m in store.list(f"{env}/") if not m.scheduled_for_deletion]
