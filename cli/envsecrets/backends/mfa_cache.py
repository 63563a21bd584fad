"""Temporary credentials of an MFA-protected role, kept in the OS keyring until they expire.

An environment with `role_arn` and `mfa_serial` asks for the MFA code once; the session that
AssumeRole returns is stored in the OS keyring (never in a plaintext file) and reused by later
runs until a minute before it expires. Without a usable keyring nothing is cached and the code is
asked for on every run.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

SERVICE = "envsecrets-mfa-session"
MARGIN = timedelta(minutes=1)  # do not hand out credentials about to expire mid-command


@dataclass(frozen=True)
class SessionCredentials:
    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: datetime

    def __repr__(self) -> str:  # credentials are as sensitive as values: never in a traceback
        return f"SessionCredentials(expires={self.expiration.isoformat()})"

    @property
    def fresh(self) -> bool:
        return self.expiration - MARGIN > datetime.now(UTC)

    @classmethod
    def from_sts(cls, creds: Mapping[str, Any]) -> SessionCredentials:
        expiration = creds["Expiration"]
        if isinstance(expiration, str):
            expiration = datetime.fromisoformat(expiration.replace("Z", "+00:00"))
        if expiration.tzinfo is None:
            expiration = expiration.replace(tzinfo=UTC)
        return cls(
            creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"], expiration
        )


def _key(role_arn: str, mfa_serial: str, profile: str | None) -> str:
    return f"{role_arn}|{mfa_serial}|{profile or ''}"


def _keyring() -> Any:
    """The keyring backend, or None when there is no usable one (then nothing is cached)."""
    from envsecrets.backends.keyring_store import usable_keyring
    from envsecrets.errors import CliError

    try:
        return usable_keyring()
    except (CliError, ImportError):
        return None


def load(role_arn: str, mfa_serial: str, profile: str | None) -> SessionCredentials | None:
    """Cached credentials that are still fresh, else None."""
    backend = _keyring()
    if backend is None:
        return None
    try:
        raw = backend.get_password(SERVICE, _key(role_arn, mfa_serial, profile))
        if not raw:
            return None
        data = json.loads(raw)
        creds = SessionCredentials(
            data["access_key_id"],
            data["secret_access_key"],
            data["session_token"],
            datetime.fromisoformat(data["expiration"]),
        )
    except Exception:  # an unreadable entry is as good as none: ask for the code again
        return None
    return creds if creds.fresh else None


def save(role_arn: str, mfa_serial: str, profile: str | None, creds: SessionCredentials) -> None:
    """Keep `creds` in the keyring; a keyring that refuses only costs a prompt next time."""
    backend = _keyring()
    if backend is None:
        return
    payload = json.dumps(
        {
            "access_key_id": creds.access_key_id,
            "secret_access_key": creds.secret_access_key,
            "session_token": creds.session_token,
            "expiration": creds.expiration.isoformat(),
        }
    )
    try:
        backend.set_password(SERVICE, _key(role_arn, mfa_serial, profile), payload)
    except Exception:
        return


def forget(role_arn: str, mfa_serial: str, profile: str | None) -> None:
    """Drop the cached session (e.g. when AWS rejected it)."""
    backend = _keyring()
    if backend is None:
        return
    try:
        backend.delete_password(SERVICE, _key(role_arn, mfa_serial, profile))
    except Exception:
        return
