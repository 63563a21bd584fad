"""Generated values for rotation: the rules `--generate` takes, one password from the store's
generator, and a pool that cuts many passwords from fewer, longer answers (bulk).

The generator is the store's (`PasswordSource`): Secrets Manager's GetRandomPassword for AWS
environments; for an environment kept in the OS keyring, which works offline by design,
`LocalPasswords` draws from the operating system's CSPRNG (Python's `secrets`) under the same
rules as GetRandomPassword's options. This module checks the rules before any call. No AWS,
Typer or rich here.
"""

from __future__ import annotations

import secrets
import string
import threading
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from envsecrets.core.values import SecretValue
from envsecrets.errors import CliError, ExitCode

DEFAULT_LENGTH = 32
MAX_LENGTH = 4096  # GetRandomPassword's limit
# GetRandomPassword's punctuation set (AWS documents exactly these characters).
PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"


# Not mutated (make mutation): the methods mutmut adds to a class it mutates would become
# members of this runtime-checkable protocol, and then no store would be an instance of it.
@runtime_checkable
class PasswordSource(Protocol):  # pragma: no mutate block
    """Where generated values come from: Secrets Manager's GetRandomPassword."""

    def generate_password(
        self,
        *,
        length: int,
        exclude_characters: str = "",
        exclude_punctuation: bool = False,
        exclude_lowercase: bool = False,
        exclude_uppercase: bool = False,
        exclude_numbers: bool = False,
    ) -> SecretValue: ...


@dataclass(frozen=True)
class PasswordRules:
    """`--generate`'s options, checked here before any call is made."""

    length: int = DEFAULT_LENGTH
    exclude_punctuation: bool = False
    exclude_characters: str = ""

    def excluded_classes(self) -> dict[str, bool]:
        """Which character classes are switched off; a class that `--exclude-characters`
        empties entirely is switched off too (AWS would otherwise fail to include it)."""
        gone = set(self.exclude_characters)
        return {
            "lowercase": set(string.ascii_lowercase) <= gone,
            "uppercase": set(string.ascii_uppercase) <= gone,
            "numbers": set(string.digits) <= gone,
            "punctuation": self.exclude_punctuation or set(PUNCTUATION) <= gone,
        }

    def check(self) -> PasswordRules:
        """Raise a usage error for constraints no password can meet."""
        if not 1 <= self.length <= MAX_LENGTH:
            raise CliError(
                ExitCode.USAGE,
                f"--length {self.length}: must be between 1 and {MAX_LENGTH}",
                f"choose a --length from 1 to {MAX_LENGTH} (the default is {DEFAULT_LENGTH})",
            )
        classes_left = [name for name, off in self.excluded_classes().items() if not off]
        if not classes_left:
            raise CliError(
                ExitCode.USAGE,
                "--generate: the exclusions leave no characters to build a password from",
                "exclude fewer characters, or drop --exclude-punctuation",
            )
        if self.length < len(classes_left):
            raise CliError(
                ExitCode.USAGE,
                f"--length {self.length} is too short to include one character of each "
                f"kind ({', '.join(classes_left)})",
                f"use --length {max(len(classes_left), DEFAULT_LENGTH)} or more",
            )
        return self


class LocalPasswords:
    """GetRandomPassword's behaviour, drawn locally from the OS's CSPRNG: the four character
    classes (AWS's punctuation set), `exclude_characters` removed from each, and at least one
    character of every class left in (RequireEachIncludedType), at a uniformly random place."""

    def generate_password(
        self,
        *,
        length: int,
        exclude_characters: str = "",
        exclude_punctuation: bool = False,
        exclude_lowercase: bool = False,
        exclude_uppercase: bool = False,
        exclude_numbers: bool = False,
    ) -> SecretValue:
        gone = set(exclude_characters)
        wanted = (
            (exclude_lowercase, string.ascii_lowercase),
            (exclude_uppercase, string.ascii_uppercase),
            (exclude_numbers, string.digits),
            (exclude_punctuation, PUNCTUATION),
        )
        classes = [[c for c in chars if c not in gone] for off, chars in wanted if not off]
        classes = [chars for chars in classes if chars]
        if not classes or length < len(classes):
            raise CliError(
                ExitCode.USAGE,
                f"cannot generate a {length}-character password with one character of each "
                "kind left after the exclusions",
                "exclude fewer characters, or choose a longer --length",
            )
        every = [c for chars in classes for c in chars]
        drawn = [secrets.choice(chars) for chars in classes]
        drawn += [secrets.choice(every) for _ in range(length - len(classes))]
        # Fisher-Yates with the CSPRNG, so the required characters are not always first.
        for i in range(len(drawn) - 1, 0, -1):
            j = secrets.randbelow(i + 1)
            drawn[i], drawn[j] = drawn[j], drawn[i]
        return SecretValue("".join(drawn))


def generate_value(source: PasswordSource, rules: PasswordRules) -> SecretValue:
    """A new password from the store's generator (AWS's, never ours)."""
    off = rules.check().excluded_classes()
    return source.generate_password(
        length=rules.length,
        exclude_characters=rules.exclude_characters,
        exclude_punctuation=off["punctuation"],
        exclude_lowercase=off["lowercase"],
        exclude_uppercase=off["uppercase"],
        exclude_numbers=off["numbers"],
    )


class PasswordPool:
    """Generated passwords for bulk rotation, cut from fewer, longer GetRandomPassword answers.

    One call returns up to 4,096 characters drawn independently by AWS; cut into `length`-sized
    pieces, each piece is a password drawn the same way. A piece lacking one of the included
    kinds of character is dropped, which is the condition RequireEachIncludedType puts on a
    single password. This turns one GetRandomPassword per secret into one per ~100 secrets
    (of 32 characters), a sixth of the calls of a bulk rotation. Thread-safe.
    """

    def __init__(self, source: PasswordSource, rules: PasswordRules) -> None:
        self.source = source
        self.rules = rules.check()
        self.per_call = max(1, MAX_LENGTH // rules.length)
        self._ready: list[str] = []
        self._lock = threading.Lock()
        off = rules.excluded_classes()
        gone = set(rules.exclude_characters)
        kinds = {
            "lowercase": string.ascii_lowercase,
            "uppercase": string.ascii_uppercase,
            "numbers": string.digits,
            "punctuation": PUNCTUATION,
        }
        self._required = [set(chars) - gone for kind, chars in kinds.items() if not off[kind]]

    def take(self) -> SecretValue:
        """The next password; calls GetRandomPassword when none is left."""
        with self._lock:
            while not self._ready:
                self._refill()
            return SecretValue(self._ready.pop())

    def _refill(self) -> None:
        if self.per_call == 1:
            self._ready.append(generate_value(self.source, self.rules).text())
            return
        length = self.rules.length
        off = self.rules.excluded_classes()
        batch = self.source.generate_password(
            length=length * self.per_call,
            exclude_characters=self.rules.exclude_characters,
            exclude_punctuation=off["punctuation"],
            exclude_lowercase=off["lowercase"],
            exclude_uppercase=off["uppercase"],
            exclude_numbers=off["numbers"],
        ).text()
        for start in range(0, len(batch) - length + 1, length):
            piece = batch[start : start + length]
            if all(kind & set(piece) for kind in self._required):
                self._ready.append(piece)
