"""`secrets audit` over the fixture set and over a monorepo-sized tree.

- recall and precision per format over tests/data/infra/expected.toml (planted findings found;
  findings that were not planted);
- throughput on trees of 500 and 1,000 infrastructure files (plus as many unrelated files),
  side by side: linear means the larger tree takes about twice the smaller one's time (less
  the start-up both share); each file is parsed once (counted in-process).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

from tests.bench.harness import SECRETS_BIN, Row, aws_env, interleaved, seconds

INFRA = Path(__file__).parent.parent / "data" / "infra"
SIZES = (500, 1000)


def _quality() -> list[Row]:
    from envsecrets.core.audit import AuditContext, audit_infrastructure
    from envsecrets.core.formats import discover

    cases = tomllib.loads((INFRA / "expected.toml").read_text(encoding="utf-8"))["case"]
    expected: dict[str, Counter[tuple[str, str, str]]] = {}
    found: dict[str, Counter[tuple[str, str, str]]] = {}
    for case in cases:
        fmt = case["format"]
        expected.setdefault(fmt, Counter()).update(tuple(f) for f in case["findings"])
        result = discover([INFRA / case["path"]], {})
        for infra in result.found:
            findings = audit_infrastructure(infra, AuditContext())
            found.setdefault(fmt, Counter()).update(
                (f.severity, f.rule, f.resource or "") for f in findings
            )
    rows = []
    for fmt in sorted(expected):
        hits = sum((expected[fmt] & found.get(fmt, Counter())).values())
        planted = sum(expected[fmt].values())
        reported = sum(found.get(fmt, Counter()).values())
        recall = hits / planted if planted else 1.0
        precision = hits / reported if reported else 1.0
        rows.append(
            Row(
                "audit",
                f"{fmt}: recall / precision",
                f"{recall:.2f} / {precision:.2f}",
                f"{hits} of {planted} planted, {reported} reported",
                "",
                "1.00 / 1.00",
            )
        )
    return rows


def _tree(root: Path, count: int) -> int:
    """`count` infrastructure files (copies of the fixtures, each its own folder for Terraform)
    and as many unrelated ones; returns how many infrastructure files were written."""
    sources = [p for p in INFRA.rglob("*") if p.is_file() and p.name != "expected.toml"]
    written = 0
    index = 0
    while written < count:
        source = sources[index % len(sources)]
        folder = root / f"service{index:04d}"
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, folder / source.name)
        (folder / f"module{index}.py").write_text("def handler(e, c):\n    return e\n")
        written += 1
        index += 1
    return written


def _counted_parses(root: Path) -> tuple[int, int]:
    """(parses, infrastructure files found) for one in-process audit of `root`."""
    import envsecrets.core.templates as templates
    import envsecrets.core.terraform as terraform
    from envsecrets.core.audit import AuditContext, audit_infrastructure
    from envsecrets.core.formats import discover

    calls = Counter[str]()
    original_yaml, original_hcl = templates.load_yaml, terraform.parse_hcl

    def load_yaml(text: str, source: str) -> Any:
        calls[source] += 1
        return original_yaml(text, source)

    def parse_hcl(text: str, source: str) -> Any:
        calls[source] += 1
        return original_hcl(text, source)

    templates.load_yaml, terraform.parse_hcl = load_yaml, parse_hcl  # type: ignore[assignment]
    try:
        result = discover([root], {})
        for infra in result.found:
            audit_infrastructure(infra, AuditContext())
    finally:
        templates.load_yaml, terraform.parse_hcl = original_yaml, original_hcl
    parsed_twice = sum(1 for n in calls.values() if n > 1)
    return parsed_twice, len(calls)


def _timed(root: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(
        [SECRETS_BIN, "audit", str(root), "--format", "json", "--fail-on", "critical"],
        env=aws_env("http://127.0.0.1:9"),
        capture_output=True,
        check=False,
    )
    if done.returncode not in (0, 1):
        raise RuntimeError(f"audit failed ({done.returncode}): {done.stderr[-300:]!r}")
    return time.perf_counter() - start


def _throughput() -> list[Row]:
    with tempfile.TemporaryDirectory() as folder:
        roots = {}
        for size in SIZES:
            roots[size] = Path(folder) / str(size)
            _tree(roots[size], size)
        times = interleaved({str(s): (lambda r=roots[s]: _timed(r)) for s in SIZES}, repeats=3)
        twice, files = _counted_parses(roots[SIZES[0]])
    small, large = times[str(SIZES[0])], times[str(SIZES[1])]
    return [
        Row(
            "audit",
            f"audit of {SIZES[1]} infrastructure files (+{SIZES[1]} others)",
            seconds(large),
            f"{SIZES[0]} files: {seconds(small)}",
            f"{large / small:.2f}x",
            "<= 2.2x (linear)",
        ),
        Row(
            "audit",
            f"files parsed more than once, of {files} read",
            str(twice),
            "",
            "",
            "0",
        ),
    ]


def run() -> list[Row]:
    return _quality() + _throughput()
