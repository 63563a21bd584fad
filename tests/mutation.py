"""`make mutation`: mutation testing (mutmut 3) of the modules where a silent bug costs most.

    python -m tests.mutation                # every module below, one after the other
    python -m tests.mutation names diffing  # only these (`make mutation MODULES="names"`)
    python -m tests.mutation --keep names   # reuse the last run's results (re-test changes)
    python -m tests.mutation --survivors values  # re-test survivors, untested and changed ones
    python -m tests.mutation --report       # the last run's figures again, nothing re-run

Each module is mutated with only the test files that concern it, so that a run takes minutes
on two cores (`nice -n 10`, `MUTATION_JOBS` workers, 2 by default). Each runs in its own
scratch folder, `.mutation/<module>/`: mutmut reads its settings from the `pyproject.toml` of
the folder it runs in and copies the package into `mutants/` there. Our layout is src-style
with the package in `cli/` (DESIGN.md), which mutmut does not look for, so the scratch folder
shows it as `src/` (a symlink to `cli/`) - mutmut then names modules `envsecrets.*` and takes
the original folder off `sys.path`. `PYTHONPATH` points at the mutated copy as well, so the
`secrets` subprocesses that tests start run the mutant too (mutmut selects the mutant through
an environment variable that they inherit).

What is printed: per module, how many mutants were killed (a test failed or timed out) out of
all of them, and every survivor - with the explanation from `tests/mutation_equivalent.toml`
when it is a mutant that no test can kill (an equivalent mutant) or one that differs only where
this suite cannot look (untestable: as a non-root user, or by timing alone), or as UNEXPLAINED.
Survivors that no selected test reaches ("no tests") count as not killed. Exit 1 when a module
is below the target or a survivor is unexplained.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # mutmut is imported only where it is used (a report needs little of it)
    from mutmut.mutation.file_mutation import MutatedFile

ROOT = Path(__file__).resolve().parent.parent
SCRATCH = ROOT / ".mutation"
MUTMUT = Path(sys.executable).parent / "mutmut"
EXPLAINED = Path(__file__).resolve().parent / "mutation_equivalent.toml"
RESULTS = Path(__file__).resolve().parent / "mutation_results.md"
TARGET = 0.90
# Statuses that count as killed: a test failed, the tests ran out of time, or mypy refused it.
KILLED = ("killed", "timeout", "caught by type check")


@dataclass(frozen=True)
class Module:
    """Source files (relative to cli/envsecrets/) and the test files that concern them."""

    sources: tuple[str, ...]
    tests: tuple[str, ...]


MODULES: dict[str, Module] = {
    "names": Module(
        ("core/names.py",),
        ("tests/test_names.py", "tests/test_errors.py", "tests/test_properties.py"),
    ),
    "values": Module(
        ("core/values.py",),
        (
            "tests/test_values.py",
            "tests/test_properties.py",
            "tests/test_faults_set.py",
            "tests/test_token_processes.py",
            "tests/test_secret_commands.py",
        ),
    ),
    "diffing": Module(
        ("core/diffing.py",),
        (
            "tests/test_diff.py",
            "tests/test_diff_properties.py",
            "tests/test_diff_budget.py",
            "tests/test_diff_empty.py",
            "tests/test_leaks_diff.py",
            "tests/test_check.py",
            "tests/test_copy.py",
        ),
    ),
    "policy": Module(
        ("core/policy.py",),
        # migrate lambda prints the policy a migrated function needs (build_policy)
        (
            "tests/test_policy.py",
            "tests/test_policy_formats.py",
            "tests/test_policy_golden.py",
            "tests/test_migrate_lambda.py",
        ),
    ),
    "rotation": Module(
        ("core/rotation.py", "core/rotation_recovery.py", "core/labels.py"),
        (
            "tests/test_rotate.py",
            "tests/test_rotate_contract.py",
            "tests/test_rotate_faults.py",
            "tests/test_rotate_apply.py",
            "tests/test_rotate_verify.py",
            "tests/test_rotate_live.py",
            "tests/test_rotate_plans.py",
            "tests/test_rotate_iam.py",
            "tests/test_rotate_rds.py",
            "tests/test_rotate_bulk.py",
            "tests/test_rotate_bulk_plans.py",
            "tests/test_labels_settle.py",
            "tests/test_leaks_rotate.py",
            "tests/test_secret_commands.py",
            "tests/test_protected.py",
            "tests/test_write_confirm.py",
            "tests/test_races.py",
            "tests/test_rotation_words.py",
            # To add with the next full run: tests/test_ages.py (bulk planning's `known` values,
            # reused or read again: it kills plan_rotation 19). A change to this list makes
            # mutmut discard every result of the module (its test_selection fingerprint).
        ),
    ),
    "migration": Module(
        ("core/migration.py",),
        (
            "tests/test_migrate_ssm.py",
            "tests/test_migrate_envfile.py",
            "tests/test_migrate_lambda.py",
            "tests/test_migrate_lambda_aws.py",
            "tests/test_migrate_faults.py",
            "tests/test_migrate_sources.py",
            "tests/test_migrate_descriptions.py",
            "tests/test_migrate_verify_lag.py",
            "tests/test_migrate_signals.py",
            "tests/test_api.py",
        ),
    ),
    "verify": Module(
        ("backends/verify.py",),
        ("tests/test_verify_runner.py", "tests/test_rotate_verify.py", "tests/test_masking.py"),
    ),
    "files": Module(
        ("core/files.py",),
        (
            "tests/test_files.py",
            "tests/test_output_files.py",
            "tests/test_export.py",
            "tests/test_inject.py",
            "tests/test_config_edit.py",
            "tests/test_setup.py",
            "tests/test_migrate_sources.py",
            "tests/test_migrate_envfile.py",
        ),
    ),
}


@dataclass
class Outcome:
    """What mutmut found for one module."""

    name: str
    statuses: dict[str, str] = field(default_factory=dict)  # mutant -> killed/survived/...

    @property
    def total(self) -> int:
        return len(self.statuses)

    @property
    def killed(self) -> int:
        return sum(status in KILLED for status in self.statuses.values())

    @property
    def rate(self) -> float:
        return self.killed / self.total if self.total else 1.0

    @property
    def untested(self) -> int:
        """Mutants the run never got to (it was stopped, or is still going)."""
        return sum(status == "not checked" for status in self.statuses.values())

    def survivors(self) -> list[str]:
        return sorted(m for m, s in self.statuses.items() if s not in KILLED and s != "not checked")


def pyproject_for(module: Module) -> str:
    """The project's pytest settings plus this module's mutmut settings."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    pytest_options = project["tool"]["pytest"]["ini_options"]
    lines = ["[tool.pytest.ini_options]"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in pytest_options.items()]
    lines += [
        "",
        "[tool.mutmut]",
        'source_paths = ["src/envsecrets"]',
        f"only_mutate = {json.dumps([f'src/envsecrets/{s}' for s in module.sources])}",
        f"pytest_add_cli_args_test_selection = {json.dumps(list(module.tests))}",
        f"type_check_command = {json.dumps(type_check_command(module))}",
        "",
    ]
    return "\n".join(lines)


def type_check_command(module: Module) -> list[str]:
    """mypy as `make lint` runs it (strict, unreachable code reported), over the mutated copies
    of the module's files: a mutant that mypy refuses could not land (CI runs mypy) and is
    counted as caught without running its tests. mutmut finds mypy by the command's name, so
    it is called `mypy` (the venv's bin folder is first on PATH). The mutated files hold
    `type: ignore` comments that mutmut's trampolines do not need: those are not errors."""
    return [
        "mypy",
        "--strict",
        "--warn-unreachable",
        "--no-warn-unused-ignores",
        "--follow-imports=silent",
        "--output=json",
        "--cache-dir=../.mypy_cache",
        *(f"src/envsecrets/{source}" for source in module.sources),
    ]


def unguarded_protocols(module: Module) -> list[str]:
    """Runtime-checkable protocols in the module's sources that mutmut would mutate. The
    methods it adds to a class it mutates become protocol members, so no object is an
    instance any more and every `isinstance` check on it fails, mutant or not. Such a class
    carries `# pragma: no mutate block` (its methods are `...`: nothing to mutate anyway)."""
    found = []
    for source in module.sources:
        lines = (ROOT / "cli" / "envsecrets" / source).read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines[:-1], start=1):
            following = lines[number]
            if line.strip() == "@runtime_checkable" and "no mutate block" not in following:
                found.append(f"cli/envsecrets/{source}:{number + 1}: {following.strip()}")
    return found


# `self.name: type = ...` inside a method. mutmut copies the method once per mutant, and mypy
# reports each copy's declaration as "already defined": every mutant of that method would be
# counted as refused by mypy without a test ever running (the attribute is declared in the
# class body instead).
TYPED_SELF_ATTRIBUTE = re.compile(r"^\s+self\.\w+\s*:[^=]+=")


def typed_self_attributes(module: Module) -> list[str]:
    """Attributes declared with a type inside a method of the module's sources."""
    found = []
    for source in module.sources:
        lines = (ROOT / "cli" / "envsecrets" / source).read_text(encoding="utf-8").splitlines()
        found += [
            f"cli/envsecrets/{source}:{number}: {line.strip()}"
            for number, line in enumerate(lines, start=1)
            if TYPED_SELF_ATTRIBUTE.match(line)
        ]
    return found


def not_mutated(module: Module) -> list[str]:
    """Functions mutmut leaves alone: it does not mutate a decorated function (a `@property`,
    a `@contextmanager`...) other than a static or class method. Their code is reached by the
    tests but never mutated: the report names them, so that a rate is not read as covering
    them."""
    found = []
    for source in module.sources:
        tree = ast.parse((ROOT / "cli" / "envsecrets" / source).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            decorators = [ast.unparse(d) for d in node.decorator_list]
            if decorators and decorators not in (["staticmethod"], ["classmethod"]):
                found.append(f"{source}:{node.lineno} {node.name} (@{', @'.join(decorators)})")
    return found


def prepare(name: str, module: Module, *, keep: bool) -> Path:
    unguarded = unguarded_protocols(module)
    if unguarded:
        raise SystemExit(
            "add `# pragma: no mutate block` to these runtime-checkable protocols (mutmut would"
            " make every isinstance check on them fail):\n" + "\n".join(unguarded)
        )
    typed = typed_self_attributes(module)
    if typed:
        raise SystemExit(
            "declare these attributes in the class body, not with a type inside a method (mypy"
            " would refuse every mutant of that method for its copies' declarations):\n"
            + "\n".join(typed)
        )
    folder = SCRATCH / name
    if not keep and folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for link, target in (("src", ROOT / "cli"), ("tests", ROOT / "tests")):
        path = folder / link
        if not path.is_symlink():
            path.symlink_to(target, target_is_directory=True)
    (folder / "pyproject.toml").write_text(pyproject_for(module), encoding="utf-8")
    (folder / "startup").mkdir(exist_ok=True)
    (folder / "startup" / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    (folder / "startup" / "mutation_order.py").write_text(QUICKEST_FIRST, encoding="utf-8")
    (folder / "startup" / "children_only_mutmut.py").write_text(
        CHILDREN_ONLY_MUTMUT, encoding="utf-8"
    )
    # Made before mutmut starts: a sys.path entry that does not exist yet when Python starts
    # is cached as "nothing there" and never looked at again.
    (folder / "mutants" / "src").mkdir(parents=True, exist_ok=True)
    # mutmut runs the tests from its copy in mutants/tests: the files they read beside the
    # package (test_api checks the README's examples) must be found from there as well.
    readme = folder / "mutants" / "README.md"
    if not readme.is_symlink():
        readme.symlink_to(ROOT / "README.md")
    return folder


# Started by Python in every process of a run (PYTHONPATH), `secrets` subprocesses included.
# While mutmut records which tests reach which functions ("stats"), it keeps what it finds in
# its own process (and would look for its settings in the test's working folder): a
# subprocess that a test starts would link nothing, and a mutant reached only through a
# `secrets` subprocess would never be given that test (it "survives" a test that kills it). So
# a subprocess runs the original code and writes each function it reaches to a file of its
# own in MUTATION_HITS; the plugin below hands them to mutmut when the test ends. A mutant's
# name is left alone.
SITECUSTOMIZE = """\
import os

if os.environ.get("MUTANT_UNDER_TEST") == "stats":
    import mutmut.mutation.trampoline as _trampoline

    _hits = os.path.join(os.environ["MUTATION_HITS"], f"{os.getpid()}.hits")
    _seen = set()

    def _record(name, caller=None):
        if name not in _seen:
            _seen.add(name)
            # Never the test's failure: some limit the files a process may write
            # (RLIMIT_FSIZE): that subprocess's functions then go unrecorded.
            try:
                with open(_hits, "a", encoding="utf-8") as out:
                    out.write(name + "\\n")
            except OSError:
                pass

    _trampoline.record_trampoline_hit = _record
"""


# A pytest plugin (PYTEST_PLUGINS) that runs a mutant's tests quickest first, by the durations
# mutmut recorded: it stops at the first failure (-x), so a killed mutant costs its quickest
# killing test instead of whatever slow fault test came first (mutmut passes the tests in no
# particular order). Outside mutmut's config on purpose: a change there discards all results.
QUICKEST_FIRST = """\
import json
import os
from pathlib import Path

import pytest


def pytest_collection_modifyitems(items):
    stats = Path("mutmut-stats.json")
    if not stats.exists():
        return
    took = json.loads(stats.read_text(encoding="utf-8")).get("duration_by_test", {})
    items.sort(key=lambda item: took.get(item.nodeid, 0.0))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item, nextitem):
    # Before mutmut links what this test reached: add what its subprocesses reached.
    if os.environ.get("MUTANT_UNDER_TEST") != "stats":
        return
    from mutmut.state import state

    for hits in Path(os.environ["MUTATION_HITS"]).glob("*.hits"):
        state()._stats.update(hits.read_text(encoding="utf-8").split())
        hits.unlink()
"""


# mutmut run, with its wall-clock timeouts sent to its own live children only. mutmut keeps the
# deadline of every mutant's process, finished or not, and sends SIGXCPU to that pid when the
# deadline passes (mutmut/workers/timeout.py: "expired entries ... remain in the heap"). The
# tests start thousands of processes and pids are reused (pid_max 32768): the signal then
# reached an unrelated process, or a thread of mutmut itself (a thread id is a pid to kill()),
# and mutmut died with exit -24 part way through migration. A pid is signalled only while it
# is still a child of this process.
CHILDREN_ONLY_MUTMUT = """\
import os
import sys

import mutmut.workers.timeout as timeout
from mutmut.__main__ import cli


class _ChildrenOnly:
    def __getattr__(self, name):
        return getattr(os, name)

    @staticmethod
    def kill(pid, sig):
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
                parent = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            raise ProcessLookupError(pid) from None
        if parent != os.getpid() or pid == os.getpid():
            raise ProcessLookupError(pid)
        os.kill(pid, sig)


timeout.os = _ChildrenOnly()
# Each process mutmut forks (its fork server, each mutant's test run) leads a process group of
# its own: a mutant of the verify runner that stops the wrong group (its own, killpg(0)) then
# ends that mutant's run - a kill - instead of mutmut and `make mutation` with it, silently.
os.register_at_fork(after_in_child=lambda: os.setpgid(0, 0))
sys.argv[0] = "mutmut"
sys.exit(cli())
"""


def environment(folder: Path) -> dict[str, str]:
    paths = [folder / "startup", folder / "mutants" / "src"]
    hits = folder / "hits"
    hits.mkdir(exist_ok=True)
    return {
        **os.environ,
        "MUTATION_HITS": str(hits),
        "PATH": os.pathsep.join((str(MUTMUT.parent), os.environ.get("PATH", ""))),
        "PYTHONPATH": os.pathsep.join(str(p) for p in paths),
        "PYTEST_PLUGINS": "mutation_order",
    }


def run_module(
    name: str, module: Module, *, keep: bool, jobs: int, survivors: bool = False
) -> Outcome:
    folder = prepare(name, module, keep=keep or survivors)
    print(f"== {name}: {', '.join(module.sources)} with {len(module.tests)} test file(s)")
    sys.stdout.flush()
    # Only the last run's survivors, against the tests as they are now (mutmut re-runs the
    # mutants it is given by name and keeps every other result), and the mutants a stopped run
    # never tested: given names, mutmut runs those names only. A survivor that no test reached
    # ("no tests") is tried again too: tests added since may reach it.
    keep_results_safe(folder, module)  # before they are read: a stopped run may have broken them
    if survivors:
        last = read_outcome(name, module, folder)
        again = last.survivors() + sorted(
            m for m, status in last.statuses.items() if status == "not checked"
        )
        # And every mutant of a function changed since: mutmut makes them again (their
        # results are gone), but runs only the names it is given.
        again += [m for m in changed_mutants(name) if m not in again]
    else:
        again = []
    log = folder / "mutmut.log"
    with log.open("w", encoding="utf-8") as out:
        done = subprocess.run(
            [
                "nice",
                "-n",
                "10",
                sys.executable,
                str(folder / "startup" / "children_only_mutmut.py"),
                "run",
                "--max-children",
                str(jobs),
                *again,
            ],
            cwd=folder,
            env=environment(folder),
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if done.returncode != 0:
        tail = log.read_text(encoding="utf-8", errors="replace")[-3000:]
        raise SystemExit(f"mutmut failed on {name} (exit {done.returncode}); see {log}\n{tail}")
    return read_outcome(name, module, folder)


def keep_results_safe(folder: Path, module: Module) -> None:
    """mutmut rewrites a source file's results (`.meta`) in place: a run stopped during that
    write leaves it empty, and the next run stops on it. Each good one is copied aside before a
    run; a broken one is put back from that copy (or removed: its mutants are then tested
    again)."""
    for source in module.sources:
        meta = results_file(folder, source)
        copy = meta.with_name(meta.name + ".good")
        if not meta.exists():
            continue
        try:
            json.loads(meta.read_text(encoding="utf-8"))
        except ValueError:
            if copy.exists():
                shutil.copyfile(copy, meta)
                print(f"   {meta.name} was broken (a stopped run): the copy made before it is back")
            else:
                # Without its results, the mutated copy too: mutmut then makes its mutants
                # again (with the copy left, it would take the file as done, with no mutants).
                meta.unlink()
                meta.with_suffix("").unlink(missing_ok=True)
                print(f"   {meta.name} was broken (a stopped run): its mutants are tested again")
            continue
        shutil.copyfile(meta, copy)


# How mutmut records a mutant's fate (its `.meta` files hold the test run's exit code).
STATUS_BY_EXIT_CODE: dict[int | None, str] = {
    0: "survived",
    1: "killed",
    3: "killed",  # pytest's internal error: the mutant broke something
    5: "no tests",
    33: "no tests",
    34: "skipped",
    36: "timeout",
    24: "timeout",  # SIGXCPU: the CPU time limit
    -24: "timeout",
    152: "timeout",
    # The mutant's test run was killed by a signal it sent (the verify runner stopping a
    # process group, its own among them): not survived; looked at as "suspicious".
    # 255: mutmut's worker caught an exception from the test runner (pytest could not run,
    # e.g. a usage error): no test found anything, so it is not counted as killed.
    37: "caught by type check",
    None: "not checked",
}


def results_file(folder: Path, source: str) -> Path:
    """Where mutmut keeps a source file's results (`.meta`) in a module's scratch folder."""
    return folder / "mutants" / "src" / "envsecrets" / f"{source}.meta"


def has_results(name: str) -> bool:
    """Whether a run of the module left results for each of its sources (a run that failed
    before mutmut started leaves the folder without them)."""
    return all(results_file(SCRATCH / name, source).is_file() for source in MODULES[name].sources)


def read_outcome(name: str, module: Module, folder: Path) -> Outcome:
    outcome = Outcome(name)
    for source in module.sources:
        meta = results_file(folder, source)
        codes = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
        for mutant, code in codes.items():
            outcome.statuses[mutant] = STATUS_BY_EXIT_CODE.get(code, "suspicious")
    return outcome


def mutant_diff(folder: Path, mutant: str) -> list[str]:
    """The changed lines of one mutant (`-` original, `+` mutated), as `mutmut show` gives
    them (its own diff, called here: a `mutmut show` process per mutant took minutes)."""
    from mutmut.mutation.diff_apply import get_diff_for_mutant

    module = mutant.rsplit(".", 1)[0]  # envsecrets.core.values.x_f__mutmut_1 -> the module
    source = Path("src", *module.split(".")).with_suffix(".py")
    with contextlib.chdir(folder):
        shown = get_diff_for_mutant(mutant, path=source)
    return [
        line
        for line in shown.splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


def normalised(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def explanations() -> list[dict[str, str]]:
    """Explained survivors: `function` (the mangled name, e.g. `x_printable`) and `mutated`
    (the mutated line as mutmut shows it) - or `pattern`, a regular expression for a family of
    them - with `why`. Each has a `kind`: "equivalent" (no test can tell it from the original:
    counted with the killed) or "untestable" (it differs, but only where this suite cannot go:
    as a user other than root, or by timing alone; listed, never counted as killed)."""
    if not EXPLAINED.exists():
        return []
    listed = tomllib.loads(EXPLAINED.read_text(encoding="utf-8"))
    return [
        {**entry, "kind": kind}
        for kind in ("equivalent", "untestable")
        for entry in listed.get(kind, [])
    ]


def explain(
    module: str, mutant: str, diff: list[str], known: list[dict[str, str]]
) -> dict[str, str] | None:
    function = mutant.rsplit(".", 1)[-1].split("__mutmut_")[0]
    added = normalised(" ".join(line[1:] for line in diff if line.startswith("+")))
    removed = normalised(" ".join(line[1:] for line in diff if line.startswith("-")))
    for entry in known:
        if entry.get("module") != module or entry.get("function") != function:
            continue
        # `original`: the line(s) the mutant changed, for mutants that only delete (no `+`
        # line, so `mutated` is "" and would match every deletion in the function).
        if "original" in entry and normalised(entry["original"]) != removed:
            continue
        if "mutated" in entry and normalised(entry["mutated"]) == added:
            return entry
        if "pattern" in entry and re.fullmatch(entry["pattern"], added):
            return entry
    return None


@dataclass
class Verdict:
    """One module's figures, survivors looked up in the explanations."""

    row: str
    details: list[str]
    passed: bool


# Only these can be explained: a survivor whose tests ran and passed, or that no test reached.
# Anything else (a runner that could not run, a skip) is a problem to look at, never explained.
EXPLAINABLE = ("survived", "no tests")


def judge(outcome: Outcome, known: list[dict[str, str]], used: set[int]) -> Verdict:
    """The module's row and its survivors, each looked up in `known` (the index of each entry
    that explains one is added to `used`). Fails unless the run is complete, the rate meets the
    target, every survivor is explained, no entry meant for one survivor explains several, no
    equivalent entry describes a mutant a test killed, and the functions are those the run
    mutated."""
    folder = SCRATCH / outcome.name
    if outcome.total == 0 or set(outcome.statuses.values()) == {"not checked"}:
        # No mutants (a source mutmut could not mutate) or mutmut stopped before testing any
        # (its first, unmutated run failed): no figure.
        row = f"{outcome.name:<12} {outcome.total:>8} {'-':>8} {'-':>7}  no results: see {folder}"
        return Verdict(row, [], False)
    survivors = outcome.survivors()
    equivalent = untestable = 0
    details: list[str] = []
    explained_by: dict[int, list[str]] = {}
    for mutant in survivors:
        diff = mutant_diff(folder, mutant)
        status = outcome.statuses[mutant]
        entry = explain(outcome.name, mutant, diff, known) if status in EXPLAINABLE else None
        if entry is None:
            details.append(f"  UNEXPLAINED {mutant} ({status})")
            details.extend(f"      {line}" for line in diff)
            continue
        explained_by.setdefault(known.index(entry), []).append(mutant)
        if entry["kind"] == "equivalent":
            equivalent += 1
            details.append(f"  equivalent  {mutant} ({status}): {entry['why']}")
        else:
            untestable += 1
            details.append(f"  untestable  {mutant} ({status}): {entry['why']}")
            details.extend(f"      {line}" for line in diff)
    used.update(explained_by)
    problems = overmatched(known, explained_by) + contradicted(outcome, known)
    details += problems
    explained = equivalent + untestable
    # Equivalent mutants cannot be killed: the second rate counts them as what they are.
    rate = (outcome.killed + equivalent) / outcome.total
    row = (
        f"{outcome.name:<12} {outcome.total:>8} {outcome.killed:>8} {outcome.rate:>7.1%}"
        f"  {len(survivors)} ({explained}); counting equivalent ones as killed: {rate:.1%}"
    )
    if untestable:
        row += f"; {untestable} survivor(s) not testable here"
    refused = sum(status == "caught by type check" for status in outcome.statuses.values())
    if refused:
        row += f"; {refused} of the killed refused by mypy"
    if outcome.untested:
        # A run stopped part way: mutmut tests the mutants with the quickest tests first, so
        # those left are the ones that the most (and slowest) tests reach.
        tested = outcome.total - outcome.untested
        row += (
            f"; {outcome.untested} not tested yet (of the {tested} tested:"
            f" {outcome.killed / tested if tested else 0:.1%} killed)"
        )
    changed = stale_functions(outcome.name)
    if changed:
        row += (
            f"; STALE: {len(changed)} function(s) changed since this run, e.g. {changed[0]}"
            " (run it again with --keep)"
        )
    passed = (
        not outcome.untested
        and not changed
        and not problems
        and rate >= TARGET
        and explained == len(survivors)
    )
    return Verdict(row, details, passed)


def overmatched(known: list[dict[str, str]], explained_by: dict[int, list[str]]) -> list[str]:
    """Entries that explain more survivors than they were written for: one with `mutated`
    (one mutant's line) explains one unless it says `count`; a `pattern` (a family) as many
    as match unless it says `count`. A second match is a different mutant, perhaps a real
    bug, that the entry would hide."""
    found = []
    for index, mutants in sorted(explained_by.items()):
        entry = known[index]
        allowed = int(entry.get("count", 1 if "pattern" not in entry else len(mutants)))
        if len(mutants) > allowed:
            found.append(
                f"  OVERMATCHED the entry for {entry['function']} ({entry['why'][:60]}...) is"
                f" meant for {allowed} survivor(s) and explains {len(mutants)}: "
                + ", ".join(mutants)
            )
    return found


def contradicted(outcome: Outcome, known: list[dict[str, str]]) -> list[str]:
    """Mutants a test killed that an `equivalent` entry describes: either the entry is wrong
    (a test can tell the mutant apart: remove it) or the kill was not the tests' doing (a
    flaky test, a load-dependent timeout): both make a figure wrong. Only the functions that
    have entries are looked at (`mutmut show` runs once per mutant)."""
    functions = {
        e["function"] for e in known if e["kind"] == "equivalent" and e["module"] == outcome.name
    }
    found = []
    for mutant, status in sorted(outcome.statuses.items()):
        function = mutant.rsplit(".", 1)[-1].split("__mutmut_")[0]
        if status not in ("killed", "timeout") or function not in functions:
            continue
        entry = explain(outcome.name, mutant, mutant_diff(SCRATCH / outcome.name, mutant), known)
        if entry is not None and entry["kind"] == "equivalent":
            found.append(
                f"  CONTRADICTED {mutant} ({status}), though explained as equivalent:"
                f" {entry['why'][:80]}... (re-run it: `--survivors` will not; or drop the entry)"
            )
    return found


def changed_mutants(name: str) -> list[str]:
    """The mutants, as mutmut will name them, of the functions changed since the last run."""
    found = []
    for source in MODULES[name].sources:
        now = mutated_now(name, source)
        changed = changed_functions(name, source, now.hash_by_function_name)
        module = "envsecrets." + source.removesuffix(".py").replace("/", ".")
        found += [f"{module}.{m}" for m in now.mutant_names if m.split("__mutmut_")[0] in changed]
    return found


def stale_functions(name: str) -> list[str]:
    """The functions whose code changed (or that came or went) since the module's results
    were made, as `source:function`."""
    return [
        f"{source}:{function}"
        for source in MODULES[name].sources
        for function in changed_functions(
            name, source, mutated_now(name, source).hash_by_function_name
        )
    ]


def mutated_now(name: str, source: str) -> MutatedFile:
    """mutmut's mutation of `source` as it is now: its mutants' names and its per-function
    hashes (mutmut reads its settings, the pragmas, from the folder it runs in)."""
    from mutmut.mutation.file_mutation import mutate_file_contents

    code = (ROOT / "cli" / "envsecrets" / source).read_text(encoding="utf-8")
    with contextlib.chdir(SCRATCH / name):
        return mutate_file_contents(f"src/envsecrets/{source}", code)


def changed_functions(name: str, source: str, now: Mapping[str, str]) -> list[str]:
    """The functions of `source` whose hash in its results (mutmut's own, what it compares to
    decide what to test again) differs from `now`, or that are in only one of them."""
    meta = json.loads(results_file(SCRATCH / name, source).read_text(encoding="utf-8"))
    then = meta.get("hash_by_function_name", {})
    return sorted(f for f in set(then) | set(now) if then.get(f) != now.get(f))


HEADER = f"{'module':<12} {'mutants':>8} {'killed':>8} {'rate':>7}  survivors (explained)"


def report(outcomes: list[Outcome], missing: Sequence[str] = ()) -> int:
    known = explanations()
    used: set[int] = set()
    verdicts = [judge(outcome, known, used) for outcome in outcomes]
    print()
    print(HEADER)
    print("\n".join(v.row for v in verdicts))
    details = [line for v in verdicts for line in v.details]
    if details:
        print("\nSurvivors:")
        print("\n".join(details))
    unmutated = [
        f"  {outcome.name}: {len(functions)}: " + "; ".join(functions)
        for outcome in outcomes
        if (functions := not_mutated(MODULES[outcome.name]))
    ]
    if unmutated:
        print("\nNot mutated (mutmut skips decorated functions; the rates do not cover them):")
        print("\n".join(unmutated))
    # Entries of the modules reported complete that explained nothing: code gone, or a mutant
    # now killed (mypy or a test). Not wrong in the figures, but no longer true: remove them.
    complete = {o.name for o in outcomes if not o.untested}
    unused = [
        f"  {entry['module']} {entry['function']}: {entry['why'][:70]}..."
        for index, entry in enumerate(known)
        if entry["module"] in complete and index not in used
    ]
    if unused:
        print("\nExplanations that explain no survivor now (remove them if the code is gone):")
        print("\n".join(unused))
    print(f"\ntarget: at least {TARGET:.0%} per module, every survivor explained")
    print(f"last recorded figures and open survivors: {RESULTS.relative_to(ROOT)} (update it)")
    return 0 if all(v.passed for v in verdicts) and not missing else 1


def main(argv: list[str]) -> int:
    keep = "--keep" in argv
    survivors = "--survivors" in argv
    only_report = "--report" in argv
    names = [a for a in argv if not a.startswith("--")] or list(MODULES)
    unknown = [n for n in names if n not in MODULES]
    if unknown:
        print(f"unknown module(s): {', '.join(unknown)}; known: {', '.join(MODULES)}")
        return 2
    jobs = int(os.environ.get("MUTATION_JOBS", "2"))
    outcomes: list[Outcome] = []
    if only_report:
        # Each module's last results as they are in .mutation/ (a module without them is named,
        # and fails the report).
        ran = [n for n in names if has_results(n)]
        missing = [n for n in names if n not in ran]
        for name in missing:
            print(f"{name}: no results in {SCRATCH / name} (run `make mutation MODULES={name}`)")
        outcomes = [read_outcome(n, MODULES[n], SCRATCH / n) for n in ran]
        return report(outcomes, missing)
    for name in names:
        outcome = run_module(name, MODULES[name], keep=keep, jobs=jobs, survivors=survivors)
        outcomes.append(outcome)
        # Each module's figures as soon as it is done (a long run may be stopped later on).
        print(HEADER)
        print(judge(outcome, explanations(), set()).row)
        sys.stdout.flush()
    return report(outcomes)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
