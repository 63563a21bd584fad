"""The committed shell completion scripts in completions/, and their regeneration.

`make completions` runs `python -m tests.completions write`; `python -m tests.completions check`
(and tests/test_completion.py) fail when a committed script differs from what the installed
`secrets` prints with `--show-completion`, like cog's `--check`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDER = ROOT / "completions"
# File name per shell: what each shell's loader expects to find.
SCRIPTS = {
    "bash": "secrets.bash",
    "zsh": "_secrets",
    "fish": "secrets.fish",
    "powershell": "secrets.ps1",
}


def generate(shell: str) -> str:
    """The script Typer's `--show-completion SHELL` prints for `secrets`."""
    # Without this Typer variable, --show-completion ignores SHELL and prints the script for
    # the shell it detects around it (shellingham), which would make the files depend on who
    # ran `make completions`.
    env = {**os.environ, "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "envsecrets", "--show-completion", shell],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env=env,
    )
    return done.stdout.rstrip("\n") + "\n"


def stale() -> list[str]:
    """Files in completions/ that are missing or differ from the generated scripts."""
    return [
        name
        for shell, name in SCRIPTS.items()
        if not (FOLDER / name).is_file()
        or (FOLDER / name).read_text(encoding="utf-8") != generate(shell)
    ]


def write() -> None:
    FOLDER.mkdir(exist_ok=True)
    for shell, name in SCRIPTS.items():
        (FOLDER / name).write_text(generate(shell), encoding="utf-8")
        print(f"wrote completions/{name}")


def main(argv: list[str]) -> int:
    if argv[:1] == ["write"]:
        write()
        return 0
    if argv[:1] == ["check"]:
        old = stale()
        for name in old:
            print(f"completions/{name} is stale: run `make completions`", file=sys.stderr)
        return 1 if old else 0
    print("usage: python -m tests.completions write|check", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
