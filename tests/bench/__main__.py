"""`make bench`: run every tests/bench/bench_*.py and print one table.

Each module has `run() -> list[Row]`. Pass names to run a subset:
`python -m tests.bench startup diff`.
"""

from __future__ import annotations

import importlib
import sys
import traceback
from pathlib import Path

from tests.bench.harness import Row, print_table


def main(selected: list[str]) -> int:
    folder = Path(__file__).parent
    names = sorted(p.stem.removeprefix("bench_") for p in folder.glob("bench_*.py"))
    if selected:
        names = [n for n in names if n in selected]
    rows: list[Row] = []
    failed = 0
    for name in names:
        print(f"running bench {name}...", file=sys.stderr, flush=True)
        module = importlib.import_module(f"tests.bench.bench_{name}")
        try:
            rows.extend(module.run())
        except Exception:
            failed += 1
            traceback.print_exc()
            rows.append(Row(name, "FAILED", "see traceback above"))
    print_table(rows)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
