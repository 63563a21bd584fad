"""CloudFormation `Conditions` decided by the parameters the user gives (`--parameter
Stage=prod`), so that an `Fn::If` whose condition they decide reads as the branch the stack
gets. A condition that depends on anything else (a parameter not given, a pseudo parameter
other than the region) stays undecided, and both branches are audited, each under its
condition.
"""

from __future__ import annotations

from typing import Any

from envsecrets.core.infra import LineDict, LineList

MAX_DEPTH = 20  # conditions that refer to conditions: a loop is undecided, not a recursion


class _Conditions:
    def __init__(self, conditions: Any, values: dict[str, str]) -> None:
        self.conditions = conditions if isinstance(conditions, dict) else {}
        self.values = values
        self.known: dict[str, bool | None] = {}

    def decide(self, name: str, depth: int = 0) -> bool | None:
        if name not in self.known:
            self.known[name] = None  # a loop stays undecided
            self.known[name] = self._truth(self.conditions.get(name), depth)
        return self.known[name]

    def _truth(self, value: Any, depth: int) -> bool | None:
        if depth > MAX_DEPTH or not isinstance(value, dict) or len(value) != 1:
            return None
        ((key, arg),) = value.items()
        if key == "Condition" and isinstance(arg, str):
            return self.decide(arg, depth + 1)
        if not isinstance(arg, list):
            return None
        if key == "Fn::Equals" and len(arg) == 2:
            left, right = (self._scalar(a) for a in arg)
            return None if left is None or right is None else left == right
        truths = [self._truth(a, depth + 1) for a in arg]
        if key == "Fn::Not" and len(truths) == 1:
            return None if truths[0] is None else not truths[0]
        if key == "Fn::And":
            return False if False in truths else (None if None in truths else True)
        if key == "Fn::Or":
            return True if True in truths else (None if None in truths else False)
        return None

    def _scalar(self, value: Any) -> str | None:
        if isinstance(value, bool):
            return str(value).lower()
        if isinstance(value, str | int | float):
            return str(value)
        if isinstance(value, dict) and isinstance(value.get("Ref"), str) and len(value) == 1:
            return self.values.get(value["Ref"])
        return None


def decide_conditions(document: Any, values: dict[str, str]) -> Any:
    """`document` with each `Fn::If` whose condition `values` decide replaced by its branch
    (`AWS::NoValue` branches drop the key or item, as CloudFormation does)."""
    if not values or not isinstance(document, dict) or not document.get("Conditions"):
        return document
    conditions = _Conditions(document.get("Conditions"), values)
    if not any(conditions.decide(name) is not None for name in conditions.conditions):
        return document
    return _rewrite(document, conditions)


_DROP = object()


def _rewrite(value: Any, conditions: _Conditions) -> Any:
    if isinstance(value, dict):
        if len(value) == 1 and "Fn::If" in value:
            arms = value["Fn::If"]
            if isinstance(arms, list) and len(arms) == 3 and isinstance(arms[0], str):
                truth = conditions.decide(arms[0])
                if truth is not None:
                    chosen = arms[1] if truth else arms[2]
                    if isinstance(chosen, dict) and chosen.get("Ref") == "AWS::NoValue":
                        return _DROP
                    return _rewrite(chosen, conditions)
        out = LineDict()
        out.line = getattr(value, "line", None)
        out.key_lines = dict(getattr(value, "key_lines", {}))
        for key, item in value.items():
            rewritten = _rewrite(item, conditions)
            if rewritten is not _DROP:
                out[key] = rewritten
        return out
    if isinstance(value, list):
        items = LineList(
            r for r in (_rewrite(item, conditions) for item in value) if r is not _DROP
        )
        items.line = getattr(value, "line", None)
        return items
    return value
