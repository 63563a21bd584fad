"""The audit's findings as SARIF 2.1.0, the form GitHub code scanning reads."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from envsecrets.core.audit_rules import RULES, Finding

# -- SARIF ----------------------------------------------------------------------------------------
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note"}
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.0", "low": "2.0"}


def to_sarif(
    findings: Sequence[Finding], *, version: str, notes: Sequence[str] = ()
) -> dict[str, Any]:
    """A SARIF 2.1.0 log, the form GitHub code scanning reads. `notes` are warnings about the
    run itself (a part of the account that could not be audited)."""
    rules = list(RULES.values())
    index = {r.id: i for i, r in enumerate(rules)}
    results: list[dict[str, Any]] = []
    for finding in findings:
        location: dict[str, Any] = {}
        if finding.file:
            physical: dict[str, Any] = {"artifactLocation": {"uri": file_uri(finding.file)}}
            if finding.line:
                physical["region"] = {"startLine": finding.line}
            location["physicalLocation"] = physical
        if finding.resource:
            logical: dict[str, Any] = {"name": finding.resource, "kind": "resource"}
            if finding.arn:
                # Live findings have no file: the ARN is what locates them in the account.
                logical["fullyQualifiedName"] = finding.arn
            location["logicalLocations"] = [logical]
        result: dict[str, Any] = {
            "ruleId": finding.rule,
            "ruleIndex": index[finding.rule],
            "level": SARIF_LEVEL[finding.severity],
            "message": {"text": finding.message},
            "properties": {"severity": finding.severity},
        }
        if location:
            result["locations"] = [location]
        results.append(result)
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "envsecrets",
                        "version": version,
                        "informationUri": "https://github.com/envsecrets/envsecrets",
                        "rules": [
                            {
                                "id": r.id,
                                "name": "".join(w.title() for w in r.id.split("-")),
                                "shortDescription": {"text": r.title},
                                "help": {"text": r.help},
                                "defaultConfiguration": {"level": SARIF_LEVEL[r.severity]},
                                "properties": {
                                    "security-severity": SECURITY_SEVERITY[r.severity],
                                    "tags": ["security"],
                                },
                            }
                            for r in rules
                        ],
                    }
                },
                "results": results,
                **(
                    {
                        "invocations": [
                            {
                                "executionSuccessful": True,
                                "toolExecutionNotifications": [
                                    {"level": "warning", "message": {"text": note}}
                                    for note in notes
                                ],
                            }
                        ]
                    }
                    if notes
                    else {}
                ),
            }
        ],
    }


def file_uri(path: str) -> str:
    """A SARIF `uri`: a relative path percent-encoded (`dir with space/t #1.yaml` ->
    `dir%20with%20space/t%20%231.yaml`), an absolute path as a `file://` URI."""
    from pathlib import PurePosixPath
    from urllib.parse import quote

    posix = path.replace("\\", "/")
    if PurePosixPath(posix).is_absolute():
        return "file://" + quote(posix)
    return quote(posix)
