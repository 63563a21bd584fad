"""envsecrets: keep application secrets in AWS Secrets Manager, namespaced by environment.

The `secrets` command is one way in; this package's public API is the other, for migration
scripts (everything not listed in `__all__` is internal and may change):

    import envsecrets

    prod = envsecrets.open_environment("prod")           # settings from secrets.toml
    migration = prod.migrate_ssm("/app/prod", to="prod/app/", recursive=True)
    print(migration.plan().counts())                      # reads only: nothing written
    result = migration.apply(yes=True)                    # writes, then reads each one back
    result = migration.remove_sources()                   # optional: only what verified
    print(result.counts(), result.exit_code)

    prod.set("prod/api/stripe-key", "sk_live_...", yes=True)
    value = prod.get("prod/api/stripe-key").value.text()

Failures raise `CliError` (`.code` is an `ExitCode`; see `envsecrets.api` for which). Names are
loaded on first use, so `import envsecrets` stays light (no AWS SDK until a call needs it).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "CliError",
    "Environment",
    "ExitCode",
    "Migration",
    "MigrationPlan",
    "MigrationResult",
    "SecretValue",
    "SetOutcome",
    "StoredValue",
    "open_environment",
]

# Where each public name lives (imported when first used).
_HOMES = {
    "CliError": "envsecrets.errors",
    "ExitCode": "envsecrets.errors",
    "Environment": "envsecrets.api",
    "Migration": "envsecrets.api",
    "open_environment": "envsecrets.api",
    "MigrationPlan": "envsecrets.core.migration",
    "MigrationResult": "envsecrets.core.migration",
    "SecretValue": "envsecrets.core.values",
    "SetOutcome": "envsecrets.core.operations",
    "StoredValue": "envsecrets.core.store",
}

if TYPE_CHECKING:
    from envsecrets.api import Environment, Migration, open_environment
    from envsecrets.core.migration import MigrationPlan, MigrationResult
    from envsecrets.core.operations import SetOutcome
    from envsecrets.core.store import StoredValue
    from envsecrets.core.values import SecretValue
    from envsecrets.errors import CliError, ExitCode


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'envsecrets' has no attribute {name!r}")
    found = getattr(import_module(home), name)
    globals()[name] = found  # the next lookup is an ordinary one
    return found


def __dir__() -> list[str]:
    # The public names once each (a loaded one is in globals() too), and the dunders; not the
    # helpers this module imports for itself (Any, import_module).
    dunders = {name for name in globals() if name.startswith("__") and name.endswith("__")}
    return sorted(dunders | set(__all__))
