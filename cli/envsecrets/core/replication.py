"""`secrets replicate`: add, retry or remove one replica region of a secret.

A region that DescribeSecret lists is not necessarily a replica: its status may be `Failed`
("the replica was not created", most often because a secret of that name already exists in
that region) or `InProgress`. A failed replica is retried: its entry is removed, then the
region added again. When a secret of the same name is in the way, nothing is written unless
`--force-overwrite-replica` (ForceOverwriteReplicaSecret) says to replace it.

No AWS, Typer or rich here: the store protocols only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from envsecrets.core.diffing import ReplicatingStore
from envsecrets.core.store import Replica, SecretMetadata
from envsecrets.errors import CliError, ExitCode

IN_PROGRESS = "InProgress"
Action = Literal["add", "retry", "remove", "unchanged", "in_progress"]


@dataclass(frozen=True)
class ReplicaPlan:
    """What `replicate` will do for one region, decided from the secret's description."""

    name: str
    region: str
    action: Action
    existing: Replica | None = None

    @property
    def writes(self) -> bool:
        return self.action in ("add", "retry", "remove")


@dataclass(frozen=True)
class ReplicaOutcome:
    """What `replicate` did, and every replica's status afterwards."""

    plan: ReplicaPlan
    replicas: tuple[Replica, ...]

    @property
    def status(self) -> str | None:
        """The region's status now (None once removed)."""
        for replica in self.replicas:
            if replica.region == self.plan.region:
                return replica.status
        return None

    def as_dict(self, configured: tuple[str, ...]) -> dict[str, Any]:
        """The documented `--json` shape of `secrets replicate`."""
        done = {"add": "added", "retry": "retried", "remove": "removed"}
        return {
            "name": self.plan.name,
            "region": self.plan.region,
            "action": done.get(self.plan.action, self.plan.action),
            "status": self.status,
            "replicas": sorted(r.region for r in self.replicas),
            "unhealthy": [
                {"region": r.region, "status": r.status, "message": r.message}
                for r in self.replicas
                if not r.healthy
            ],
            "replica_regions_configured": sorted(configured),
        }


def plan_replica(meta: SecretMetadata, region: str, *, remove: bool) -> ReplicaPlan:
    """Add a region not listed; retry one whose replica failed; leave an InSync one (or one
    still InProgress) alone; remove one that is listed, whatever its status."""
    existing = next((r for r in meta.replicas if r.region == region), None)
    if remove:
        return ReplicaPlan(meta.name, region, "remove" if existing else "unchanged", existing)
    if existing is None:
        return ReplicaPlan(meta.name, region, "add")
    if existing.healthy:
        return ReplicaPlan(meta.name, region, "unchanged", existing)
    if existing.status == IN_PROGRESS:
        return ReplicaPlan(meta.name, region, "in_progress", existing)
    return ReplicaPlan(meta.name, region, "retry", existing)


def apply_replica(
    store: ReplicatingStore,
    plan: ReplicaPlan,
    replicas: tuple[Replica, ...],
    *,
    primary: str,
    force_overwrite: bool = False,
) -> ReplicaOutcome:
    """Carry out `plan`. A retry without `force_overwrite` first makes sure no other secret of
    the same name is in the way (exit 4, nothing written); an add that AWS answers `Failed`
    is reported with AWS's reason (exit 4 when that secret is in the way, else 1)."""
    name, region = plan.name, plan.region
    if not plan.writes:
        return ReplicaOutcome(plan, replicas)
    if plan.action == "remove":
        store.remove_replicas(name, [region])
        return ReplicaOutcome(plan, tuple(r for r in replicas if r.region != region))
    if plan.action == "retry":
        if not force_overwrite and _occupied(store, name, region, primary):
            raise _in_the_way(plan, plan.existing)
        # A failed region stays in the replication list: it must leave it before it can be
        # added again.
        store.remove_replicas(name, [region])
    after = store.add_replicas(name, [region], force_overwrite=force_overwrite)
    mine = next((r for r in after if r.region == region), None)
    if mine is not None and not mine.healthy and mine.status != IN_PROGRESS:
        if not force_overwrite and _occupied(store, name, region, primary):
            raise _in_the_way(plan, mine)
        raise CliError(
            ExitCode.FAILED,
            f"{name}: replication to {region} failed: {mine.message or mine.status}",
            f"fix the cause, then run `secrets replicate {name} --region {region}` again "
            "(it retries the failed replica)",
        )
    return ReplicaOutcome(plan, after)


def _occupied(store: ReplicatingStore, name: str, region: str, primary: str) -> bool:
    """Whether another secret called `name` lives in `region` (not a replica of ours)."""
    found = store.describe_in(name, region)
    return found is not None and (found.primary_region or region) != primary


def _in_the_way(plan: ReplicaPlan, replica: Replica | None) -> CliError:
    reason = f" (AWS: {replica.message})" if replica is not None and replica.message else ""
    return CliError(
        ExitCode.REFUSED,
        f"{plan.name}: a different secret of the same name exists in {plan.region}, so the "
        f"replica cannot be created there{reason}",
        f"`secrets replicate {plan.name} --region {plan.region} --force-overwrite-replica` "
        "replaces that secret with the replica (its own value there is lost); or delete it "
        f"in {plan.region} first",
    )
