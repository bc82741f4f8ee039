"""The OData query options MYOB's API takes: `$filter` (comparisons with eq, ne, gt, ge, lt, le of a field and a
literal: 'text', datetime'2015-03-29T03:31:57.19', guid'...', numbers, true, false, null; joined with and, or,
not and parentheses), `$orderby` (fields, asc or desc) and `$top`/`$skip`. Field paths may reach into objects with
`/` (`TaxCode/Code`). Times compare as MYOB keeps them: wall-clock text without a zone."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

Predicate = Callable[[dict[str, Any]], bool]


class QueryError(ValueError):
    """A query option MYOB would refuse; the message says why."""


_TOKEN = re.compile(
    r"\s*(?:(?P<open>\()|(?P<close>\))|(?P<text>'(?:[^']|'')*')|(?P<typed>(?:datetime|guid)'[^']*')"
    r"|(?P<number>-?\d+(?:\.\d+)?)|(?P<word>[A-Za-z_][A-Za-z0-9_/]*))"
)
_OPS = {"eq", "ne", "gt", "ge", "lt", "le"}


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, at = [], 0
    while at < len(text):
        if text[at:].strip() == "":
            break
        m = _TOKEN.match(text, at)
        if not m:
            raise QueryError(f"Syntax error at position {at} in '{text}'.")
        kind = m.lastgroup or ""
        tokens.append((kind, m.group(kind)))
        at = m.end()
    return tokens


def _literal(kind: str, value: str) -> Any:
    if kind == "text":
        return value[1:-1].replace("''", "'")
    if kind == "typed":
        prefix, _, rest = value.partition("'")
        rest = rest[:-1]
        if prefix == "datetime":
            try:
                return datetime.fromisoformat(_seven_to_six(rest))
            except ValueError:
                raise QueryError(f"'{rest}' is not a valid datetime.") from None
        return rest.lower()
    if kind == "number":
        return float(value) if "." in value else int(value)
    if value in ("true", "false"):
        return value == "true"
    if value == "null":
        return None
    raise QueryError(f"'{value}' is not a value.")


def _seven_to_six(text: str) -> str:
    whole, dot, fraction = text.partition(".")
    return f"{whole}.{(fraction + '000000')[:6]}" if dot else whole


def field_value(row: dict[str, Any], path: str) -> Any:
    value: Any = row
    for part in path.split("/"):
        value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?", value):
        return datetime.fromisoformat(_seven_to_six(value))
    return value.lower() if isinstance(value, str) and re.fullmatch(r"[0-9a-fA-F-]{36}", value) else value


def _compare(op: str, left: Any, right: Any) -> bool:
    if op == "eq":
        return bool(left == right)
    if op == "ne":
        return bool(left != right)
    if left is None or right is None:
        return False
    try:
        return bool({"gt": left > right, "ge": left >= right, "lt": left < right, "le": left <= right}[op])
    except TypeError:
        raise QueryError("The types of a comparison do not match.") from None


def parse_filter(text: str) -> Predicate:
    """A `$filter` as a predicate on a rendered record, or QueryError."""
    tokens = _tokens(text)
    at = 0

    def peek() -> tuple[str, str] | None:
        return tokens[at] if at < len(tokens) else None

    def take() -> tuple[str, str]:
        nonlocal at
        if at >= len(tokens):
            raise QueryError(f"The filter '{text}' ends too early.")
        at += 1
        return tokens[at - 1]

    def disjunction() -> Predicate:
        left = conjunction()
        while (t := peek()) and t == ("word", "or"):
            take()
            right, first = conjunction(), left
            left = lambda row, a=first, b=right: a(row) or b(row)  # noqa: E731
        return left

    def conjunction() -> Predicate:
        left = unary()
        while (t := peek()) and t == ("word", "and"):
            take()
            right, first = unary(), left
            left = lambda row, a=first, b=right: a(row) and b(row)  # noqa: E731
        return left

    def unary() -> Predicate:
        if peek() == ("word", "not"):
            take()
            inner = unary()
            return lambda row: not inner(row)
        if peek() == ("open", "("):
            take()
            inner = disjunction()
            if take() != ("close", ")"):
                raise QueryError(f"A parenthesis is not closed in '{text}'.")
            return inner
        kind, path = take()
        if kind != "word":
            raise QueryError(f"Expected a field name in '{text}'.")
        op_kind, op = take()
        if op_kind != "word" or op not in _OPS:
            raise QueryError(f"'{op}' is not a comparison operator.")
        value = _literal(*take())
        return lambda row: _compare(op, field_value(row, path), value)

    predicate = disjunction()
    if at != len(tokens):
        raise QueryError(f"Unexpected '{tokens[at][1]}' in '{text}'.")
    return predicate


def sort_rows(rows: list[dict[str, Any]], orderby: str | None) -> None:
    """Sort in place by `$orderby` (`Name desc, DisplayID`); None values first, as SQL Server orders them."""
    if not orderby:
        return
    keys = []
    for part in orderby.split(","):
        words = part.split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
            raise QueryError(f"'{part.strip()}' is not a valid ordering.")
        keys.append((words[0], len(words) == 2 and words[1].lower() == "desc"))
    for path, descending in reversed(keys):
        rows.sort(key=lambda row, p=path: _sort_key(field_value(row, p)), reverse=descending)


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, "")
    if isinstance(value, bool | int | float):
        return (1, value)
    if isinstance(value, datetime):
        return (2, value)
    return (3, str(value).casefold())
