"""The ePhoto number: generation, parsing with precise problems, typo candidates, print grouping.

Facts from the operator: 22 uppercase alphanumeric characters, this operator's start with ``9PMT``,
case-sensitive, customers confuse 0/O, 1/I, 5/S and type lowercase.

cabine's own convention (the real structure is not public): after the 4-character operator prefix
come 17 characters drawn from a CSPRNG over A-Z0-9 (about 88 bits), then 1 check character,
ISO/IEC 7064 MOD 37,36 over the 21 characters before it. That check catches every single
substitution, so a confusable mistake is detectable without any database.
"""

from __future__ import annotations

import random
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field

from stdnum.iso7064 import mod_37_36

from ephoto.texts import texts

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
CODE_LENGTH = 22
PREFIX_LENGTH = 4
RANDOM_LENGTH = CODE_LENGTH - PREFIX_LENGTH - 1
DEFAULT_PREFIX = "9PMT"
GROUP_SIZE = 4

# Pairs customers mix up. 0/O, 1/I, 5/S come from the operator's FAQ; 8/B and 2/Z are added
# because the same shapes confuse readers of small print.
CONFUSABLE_PAIRS: tuple[tuple[str, str], ...] = (
    ("0", "O"),
    ("1", "I"),
    ("5", "S"),
    ("8", "B"),
    ("2", "Z"),
)
_CONFUSABLE: dict[str, str] = {}
for _a, _b in CONFUSABLE_PAIRS:
    _CONFUSABLE[_a] = _b
    _CONFUSABLE[_b] = _a

_SEPARATORS = re.compile(r"[ \t\-]+")
_ALNUM_UPPER = frozenset(ALPHABET)


class InvalidCode(ValueError):
    """Raised by :func:`parse` with every problem found in the text."""

    def __init__(self, text: str, problems: list[Problem]):
        self.text = text
        self.problems = problems
        super().__init__("; ".join(p.detail for p in problems))


@dataclass(frozen=True)
class Problem:
    """One reason a text is not a valid ePhoto number.

    ``rule`` is a stable identifier (``length``, ``lowercase``, ``characters``, ``prefix``,
    ``check``); ``detail`` says it in English for logs and the CLI; ``params`` lets product
    text in any language say the same thing.
    """

    rule: str
    detail: str
    params: dict[str, str | int] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True, order=True)
class EphotoCode:
    """A well-formed ePhoto number (22 characters, prefix, check character all right)."""

    value: str

    def __post_init__(self) -> None:
        problems = problems_in(self.value, prefixes=None)
        if problems:
            raise InvalidCode(self.value, problems)

    @property
    def prefix(self) -> str:
        return self.value[:PREFIX_LENGTH]

    def grouped(self) -> str:
        return group(self.value)

    def __str__(self) -> str:
        return self.value


def normalize(text: str) -> str:
    """Remove the spaces and dashes people put between groups; never change the case."""
    return _SEPARATORS.sub("", text.strip())


def check_character(body: str) -> str:
    """The MOD 37,36 check character for the 21 characters before it."""
    return mod_37_36.calc_check_digit(body, alphabet=ALPHABET)


def _validate_prefix(prefix: str) -> str:
    if len(prefix) != PREFIX_LENGTH or any(c not in _ALNUM_UPPER for c in prefix):
        raise ValueError(
            f"operator prefix {prefix!r} must be {PREFIX_LENGTH} characters from A-Z and 0-9"
        )
    return prefix


def _from_random_body(prefix: str, random_part: str) -> EphotoCode:
    body = prefix + random_part
    return EphotoCode(body + check_character(body))


def generate(prefix: str = DEFAULT_PREFIX) -> EphotoCode:
    """A fresh code from the operating system's CSPRNG: this is what booths issue."""
    _validate_prefix(prefix)
    random_part = "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_LENGTH))
    return _from_random_body(prefix, random_part)


class SeededCodeGeneratorForSimulation:
    """Reproducible codes for simulations and tests only; never for a real booth.

    A seeded ``random.Random`` is predictable by design, so codes from it could be guessed.
    """

    def __init__(self, seed: int, prefix: str = DEFAULT_PREFIX):
        self._rng = random.Random(seed)
        self._prefix = _validate_prefix(prefix)

    def next_code(self) -> EphotoCode:
        random_part = "".join(self._rng.choices(ALPHABET, k=RANDOM_LENGTH))
        return _from_random_body(self._prefix, random_part)

    def __iter__(self) -> Iterator[EphotoCode]:
        while True:
            yield self.next_code()


def _positions(indexes: list[int]) -> str:
    return ", ".join(str(i + 1) for i in indexes)


def problems_in(text: str, prefixes: tuple[str, ...] | None = (DEFAULT_PREFIX,)) -> list[Problem]:
    """Every problem in ``text`` (separators already removed by the caller or not).

    ``prefixes`` lists the accepted operator prefixes; ``None`` accepts any prefix.
    Positions are 1-based, counted after spaces and dashes are removed.
    """
    code = normalize(text)
    problems: list[Problem] = []
    if len(code) != CODE_LENGTH:
        problems.append(
            Problem(
                "length",
                f"code has {len(code)} characters, {CODE_LENGTH} expected",
                {"length": len(code), "expected": CODE_LENGTH},
            )
        )
    lower = [i for i, c in enumerate(code) if c.isascii() and c.islower()]
    if lower:
        problems.append(
            Problem(
                "lowercase",
                f"lowercase letters at positions {_positions(lower)}: type the code in capitals",
                {"positions": _positions(lower), "letters": "".join(code[i] for i in lower)},
            )
        )
    bad = [c for c in code if c not in _ALNUM_UPPER and not (c.isascii() and c.islower())]
    if bad:
        shown = " ".join(dict.fromkeys(repr(c) for c in bad))
        problems.append(
            Problem(
                "characters",
                f"characters outside A-Z and 0-9: {shown}",
                {"characters": shown},
            )
        )
    if prefixes is not None and len(code) >= PREFIX_LENGTH:
        head = code[:PREFIX_LENGTH]
        if head not in prefixes:
            expected = " or ".join(prefixes)
            problems.append(
                Problem(
                    "prefix",
                    f"code starts with {head!r}, expected {expected}",
                    {"prefix": head, "expected": expected},
                )
            )
    if not problems and mod_37_36.checksum(code, alphabet=ALPHABET) != 1:
        problems.append(
            Problem(
                "check",
                "check character does not match: a character was mistyped",
                {},
            )
        )
    return problems


def parse(text: str, prefixes: tuple[str, ...] | None = (DEFAULT_PREFIX,)) -> EphotoCode:
    """The code in ``text``, or :class:`InvalidCode` listing every problem."""
    problems = problems_in(text, prefixes)
    if problems:
        raise InvalidCode(text, problems)
    return EphotoCode(normalize(text))


def is_valid(text: str, prefixes: tuple[str, ...] | None = (DEFAULT_PREFIX,)) -> bool:
    return not problems_in(text, prefixes)


def _single_swaps(code: str) -> Iterator[str]:
    for i, c in enumerate(code):
        other = _CONFUSABLE.get(c)
        if other is not None:
            yield code[:i] + other + code[i + 1 :]


def candidates(text: str, prefixes: tuple[str, ...] | None = (DEFAULT_PREFIX,)) -> list[str]:
    """The codes the customer probably meant, when ``text`` is not itself valid.

    A candidate is at most one confusable swap (0/O, 1/I, 5/S, 8/B, 2/Z) away from the typed
    text, after optionally upper-casing its lowercase letters, and passes every check.
    Sorted, without duplicates; empty when the text is already valid.
    """
    code = normalize(text)
    if is_valid(code, prefixes):
        return []
    bases = [code]
    if code.upper() != code:
        bases.append(code.upper())
    found: set[str] = set()
    for base in bases:
        for variant in (base, *_single_swaps(base)):
            if variant != code and is_valid(variant, prefixes):
                found.add(variant)
    return sorted(found)


def group(code: str | EphotoCode, size: int = GROUP_SIZE) -> str:
    """``9PMT7K2Q...`` as ``9PMT 7K2Q ...``: groups of four, easier to copy."""
    value = str(code)
    return " ".join(value[i : i + size] for i in range(0, len(value), size))


def describe(problem: Problem, lang: str = "fr") -> str:
    """The problem in plain words for a customer, from ``assets/text/code.{lang}.toml``."""
    return texts("code", lang).get(f"problem.{problem.rule}", **problem.params)
