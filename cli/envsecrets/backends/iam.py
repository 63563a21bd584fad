"""IAM, read-only: the policies attached to a role (inline and managed), for the live audit.

Per role: ListRolePolicies, GetRolePolicy per inline policy, ListAttachedRolePolicies, and
GetPolicy + GetPolicyVersion per managed policy the first time it is seen (shared policies
are fetched once per run). Roles shared by functions are read once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from envsecrets.backends.aws import AwsTarget, aws_errors, error_code
from envsecrets.core.audit_live import AttachedPolicy

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_iam.type_defs import AttachedPolicyTypeDef


def _document(raw: Any) -> Any:
    """botocore decodes policy documents to dicts; be tolerant of the raw URL-encoded form."""
    if isinstance(raw, str):
        import json

        try:
            return json.loads(unquote(raw))
        except ValueError:
            return None
    return raw


class RolePolicies:
    """Reads the policies of roles, caching roles and managed policies for one run."""

    def __init__(self, target: AwsTarget) -> None:
        self.target = target
        self._roles: dict[str, list[AttachedPolicy]] = {}
        self._managed: dict[str, Any] = {}

    @property
    def client(self) -> IAMClient:
        return self.target.client("iam")

    def policies(self, role_arn: str) -> list[AttachedPolicy]:
        """The role's inline and managed policy documents; [] when the role is gone."""
        role = role_arn.rsplit("/", 1)[-1]
        if role not in self._roles:
            self._roles[role] = self._read(role)
        return self._roles[role]

    def _read(self, role: str) -> list[AttachedPolicy]:
        found: list[AttachedPolicy] = []
        with aws_errors(side=self.target.label):
            try:
                names = self._inline_names(role)
                attached = self._attached(role)
            except Exception as exc:
                if error_code(exc) == "NoSuchEntity":
                    return found  # a function whose role was deleted can read nothing
                raise
            for name in names:
                response = self.client.get_role_policy(RoleName=role, PolicyName=name)
                found.append(
                    AttachedPolicy(
                        f"inline policy {name} of role {role}",
                        _document(response.get("PolicyDocument")),
                    )
                )
            for entry in attached:
                arn = str(entry["PolicyArn"])
                found.append(
                    AttachedPolicy(
                        f"managed policy {entry.get('PolicyName', arn)} of role {role}",
                        self._managed_document(arn),
                        arn,
                    )
                )
        return found

    def _managed_document(self, arn: str) -> Any:
        if arn not in self._managed:
            try:
                policy = self.client.get_policy(PolicyArn=arn)["Policy"]
                version = self.client.get_policy_version(
                    PolicyArn=arn, VersionId=policy["DefaultVersionId"]
                )
            except Exception as exc:
                if error_code(exc) != "NoSuchEntity":
                    raise
                # Unreadable (the emulator does not load AWS managed policies by default):
                # the audit then judges it by its name.
                self._managed[arn] = None
            else:
                self._managed[arn] = _document(version["PolicyVersion"].get("Document"))
        return self._managed[arn]

    # botocore's paginators follow IAM's IsTruncated/Marker pages, one call a page.
    def _inline_names(self, role: str) -> list[str]:
        pages = self.client.get_paginator("list_role_policies").paginate(RoleName=role)
        return [name for page in pages for name in page.get("PolicyNames", ())]

    def _attached(self, role: str) -> list[AttachedPolicyTypeDef]:
        pages = self.client.get_paginator("list_attached_role_policies").paginate(RoleName=role)
        return [entry for page in pages for entry in page.get("AttachedPolicies", ())]
