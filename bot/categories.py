"""The business's categories (Sales, Materials, ...) that an admin maps to accounts, read from a YAML or JSON file.

The defaults for a trades business ship as `bot/categories.yml`, which also documents the format;
`ACCOUNT_CATEGORIES_FILE` points at a file of your own instead.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from providers.base import ACCOUNT_KINDS

DEFAULT_FILE = Path(__file__).with_name("categories.yml")
MAX_CATEGORIES = 40  # one input block each; a modal holds 100 blocks
MAX_LABEL = 60
MAX_HELP = 150
KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class CategoriesError(ValueError):
    """The categories file is missing or malformed; the message says where and how to fix it."""


@dataclass(frozen=True)
class Category:
    key: str  # stable id; AccountMapping.category holds it
    label: str
    kinds: tuple[str, ...]  # providers.base.ACCOUNT_KINDS it may map to
    required: bool
    help: str

    def allows(self, kind: str) -> bool:
        return kind in self.kinds


def load_categories(path: str | Path | None = None) -> tuple[Category, ...]:
    """The categories in `path` (the built-in defaults when None); raises `CategoriesError`.

    Read once per path and kept: changing the file takes a restart.
    """
    return _load(str(Path(path).expanduser().resolve()) if path else str(DEFAULT_FILE))


@functools.lru_cache(maxsize=8)
def _load(path: str) -> tuple[Category, ...]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise CategoriesError(f"cannot be read ({exc.strerror or exc}): {path}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CategoriesError(f"is not valid YAML or JSON ({path}): {exc}") from None
    return parse_categories(data, source=path)


def parse_categories(data: Any, *, source: str = "the categories file") -> tuple[Category, ...]:
    """Categories from the file's parsed content: `{"categories": [{key, label, kinds, required, help}, ...]}`."""
    items = data.get("categories") if isinstance(data, dict) else None
    if not isinstance(items, list) or not items:
        raise CategoriesError(f"needs a non-empty list under `categories:` ({source})")
    if len(items) > MAX_CATEGORIES:
        raise CategoriesError(f"has {len(items)} categories; at most {MAX_CATEGORIES} fit in a Slack modal ({source})")
    problems: list[str] = []
    categories: list[Category] = []
    for index, item in enumerate(items, start=1):
        where = f"category {index}"
        if not isinstance(item, dict):
            problems.append(f"{where} must be a mapping with key, label, kinds, required and help")
            continue
        key, label, help_text = item.get("key"), item.get("label"), item.get("help", "")
        kinds, required = item.get("kinds"), item.get("required", False)
        if not isinstance(key, str) or not KEY.match(key):
            problems.append(f"{where}: key must be lower-case letters, digits and _ (at most 40), got {key!r}")
        else:
            where = f"category {key!r}"
        if not isinstance(label, str) or not label.strip() or len(label) > MAX_LABEL:
            problems.append(f"{where}: label must be text of 1 to {MAX_LABEL} characters")
        if not isinstance(help_text, str) or len(help_text) > MAX_HELP:
            problems.append(f"{where}: help must be text of at most {MAX_HELP} characters")
        if isinstance(kinds, str):
            kinds = [kinds]
        if not isinstance(kinds, list) or not kinds:
            problems.append(f"{where}: kinds must list at least one of {', '.join(ACCOUNT_KINDS)}")
            kinds = []
        unknown = [k for k in kinds if k not in ACCOUNT_KINDS]
        if unknown:
            problems.append(
                f"{where}: {', '.join(map(str, unknown))} is not a kind of account ({', '.join(ACCOUNT_KINDS)})"
            )
        if not isinstance(required, bool):
            problems.append(f"{where}: required must be true or false")
        if isinstance(key, str) and isinstance(label, str) and isinstance(help_text, str):
            categories.append(
                Category(
                    key=key,
                    label=label.strip(),
                    kinds=tuple(dict.fromkeys(str(k) for k in kinds)),
                    required=bool(required),
                    help=help_text.strip(),
                )
            )
    keys = [c.key for c in categories]
    problems += [f"key {k!r} is used twice" for k in sorted({k for k in keys if keys.count(k) > 1})]
    if problems:
        raise CategoriesError(f"has problems ({source}): " + "; ".join(problems))
    return tuple(categories)


def by_key(categories: Sequence[Category]) -> dict[str, Category]:
    return {c.key: c for c in categories}
