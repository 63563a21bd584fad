"""A keyring backend for tests that, like the OS keychains, stores every entry on its own.

keyrings.alt's file backend keeps all entries in one file; macOS Keychain, Secret Service and
Windows Credential Locker keep each entry separately, so that two writers of two entries never
clash, while two writers of one entry (our index) still lose one write. This backend does the
same with one file per entry in `$TEST_KEYRING_DIR`, and takes a few milliseconds per call, as
a keychain over D-Bus does, so that a read-modify-write without a lock loses updates reliably.
Choose it with `PYTHON_KEYRING_BACKEND=tests.keyring_backends.FolderKeyring` (subprocesses
need the repository on PYTHONPATH).
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from urllib.parse import quote

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

CALL_SECONDS = 0.003


class FolderKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]  # chosen by name only

    @staticmethod
    def _path(service: str, username: str) -> Path:
        folder = Path(os.environ["TEST_KEYRING_DIR"])
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{quote(service, safe='')}@{quote(username, safe='')}"

    def get_password(self, service: str, username: str) -> str | None:
        time.sleep(CALL_SECONDS)
        try:
            return self._path(service, username).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    def set_password(self, service: str, username: str, password: str) -> None:
        time.sleep(CALL_SECONDS)
        path = self._path(service, username)
        temp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        temp.write_text(password, encoding="utf-8")
        temp.replace(path)  # each entry is written whole, as a keychain does

    def delete_password(self, service: str, username: str) -> None:
        time.sleep(CALL_SECONDS)
        try:
            self._path(service, username).unlink()
        except FileNotFoundError:
            raise PasswordDeleteError(username) from None
