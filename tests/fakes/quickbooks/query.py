"""QuickBooks' query language as the fake understands it: `SELECT * | COUNT(*) FROM Entity [WHERE a AND b ...]
[ORDERBY field [ASC|DESC]] [STARTPOSITION n] [MAXRESULTS n]`. Keywords in any case, entity names exactly;
conditions `=`, `<`, `>`, `<=`, `>=`, `!=`, `IN (...)` and `LIKE` (with `%` only), joined by AND; no OR, JOIN,
GROUP BY or projections (Intuit refuses them)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

MAX_RESULTS = 1000
DEFAULT_RESULTS = 100


class QueryError(ValueError):
    """A statement Intuit would refuse: `code` 4000 (QueryParserError) or 4001 (QueryValidationError)."""

    def __init__(self, message: str, code: str = "4000") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Query:
    entity: str
    count: bool
    conditions: list[Callable[[dict[str, Any]], bool]] = field(default_factory=list)
    fields: frozenset[str] = frozenset()  # what the WHERE clause names
    order: str | None = None
    descending: bool = False
    start: int = 1
    max_results: int = DEFAULT_RESULTS

    def matches(self, row: dict[str, Any]) -> bool:
        return all(condition(row) for condition in self.conditions)


_STATEMENT = re.compile(r"^\s*select\s+(?P<what>.+?)\s+from\s+(?P<entity>\S+)(?P<rest>.*)$", re.I | re.S)
_REST = re.compile(
    r"^\s*(?:where\s+(?P<where>.+?))?"
    r"\s*(?:order\s*by\s+(?P<order>[\w.]+)(?:\s+(?P<dir>asc|desc))?)?"
    r"\s*(?:startposition\s+(?P<start>-?\d+))?"
    r"\s*(?:maxresults\s+(?P<max>-?\d+))?\s*;?\s*$",
    re.I | re.S,
)
_CONDITION = re.compile(
    r"^\s*(?P<field>[A-Za-z][\w.]*)\s*(?P<op><=|>=|!=|=|<|>|\bin\b|\blike\b)\s*(?P<value>.+?)\s*$", re.I | re.S
)
_AND = re.compile(r"\s+and\s+(?=(?:[^']*'[^']*')*[^']*$)", re.I)  # AND outside quotes
_FORBIDDEN = re.compile(r"\s(or|join|group\s+by)\s(?=(?:[^']*'[^']*')*[^']*$)", re.I)


def parse_query(statement: str, entities: frozenset[str]) -> Query:
    """The statement as a `Query`, or QueryError worded as Intuit words it."""
    found = _STATEMENT.match(statement)
    if not found:
        raise QueryError(f'Error parsing query: QueryParserError: Encountered "{statement[:40]}"')
    what, entity = found["what"].strip(), found["entity"]
    if entity not in entities:
        raise QueryError(f"Invalid query: QueryValidationError: Entity {entity!r} is not supported", "4001")
    if what != "*" and not re.fullmatch(r"count\(\s*\*\s*\)", what, re.I):
        raise QueryError("Error parsing query: QueryParserError: projections are not supported")
    rest = _REST.match(found["rest"])
    if not rest or _FORBIDDEN.search(f" {found['rest']} "):
        raise QueryError(f'Error parsing query: QueryParserError: Encountered "{found["rest"].strip()[:40]}"')
    start = int(rest["start"]) if rest["start"] else 1
    max_results = int(rest["max"]) if rest["max"] else DEFAULT_RESULTS
    if max_results > MAX_RESULTS:
        raise QueryError(f"Invalid query: QueryValidationError: MAXRESULTS must be at most {MAX_RESULTS}", "4001")
    conditions, fields = [], set()
    if rest["where"]:
        for part in _AND.split(rest["where"]):
            condition, name = _condition(part)
            conditions.append(condition)
            fields.add(name)
    return Query(
        entity=entity,
        count=what != "*",
        conditions=conditions,
        fields=frozenset(fields),
        order=rest["order"],
        descending=(rest["dir"] or "").lower() == "desc",
        start=max(start, 1),
        max_results=max(max_results, 0),
    )


def _condition(text: str) -> tuple[Callable[[dict[str, Any]], bool], str]:
    found = _CONDITION.match(text)
    if not found:
        raise QueryError(f'Error parsing query: QueryParserError: Encountered "{text.strip()[:40]}"')
    name, op = found["field"], found["op"].lower()
    if op == "in":
        inner = found["value"].strip()
        if not (inner.startswith("(") and inner.endswith(")")):
            raise QueryError("Error parsing query: QueryParserError: IN needs a list")
        values = [_literal(v) for v in _split_list(inner[1:-1])]
        return (lambda row: _comparable(field_value(row, name)) in [_comparable(v) for v in values]), name
    value = _literal(found["value"])
    if op == "like":
        if not isinstance(value, str):
            raise QueryError("Error parsing query: QueryParserError: LIKE needs text")
        pattern = re.compile("^" + ".*".join(re.escape(p) for p in value.split("%")) + "$", re.I | re.S)
        return (lambda row: isinstance(v := field_value(row, name), str) and bool(pattern.match(v))), name
    compare = {
        "=": lambda a, b: a == b,
        "!=": lambda a, b: a != b,
        "<": lambda a, b: a < b,
        ">": lambda a, b: a > b,
        "<=": lambda a, b: a <= b,
        ">=": lambda a, b: a >= b,
    }[op]

    def condition(row: dict[str, Any]) -> bool:
        a, b = _comparable(field_value(row, name)), _comparable(value)
        try:
            return bool(a is not None and compare(a, b))
        except TypeError:
            return False

    return condition, name


def field_value(row: dict[str, Any], name: str) -> Any:
    """`MetaData.LastUpdatedTime` and the like: a dotted path into the row; `Active` is true when absent."""
    value: Any = row
    for part in name.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if value is None and name == "Active":
        return True
    return value


def _comparable(value: Any) -> Any:
    """Times compare as times (Intuit's come with zones), everything else as it is."""
    if isinstance(value, str) and re.match(r"^\d{4}-\d{2}-\d{2}", value):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return value


def _split_list(text: str) -> list[str]:
    return [part for part in re.split(r",(?=(?:[^']*'[^']*')*[^']*$)", text) if part.strip()]


def _literal(text: str) -> Any:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1].replace("\\'", "'")
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise QueryError(f'Error parsing query: QueryParserError: Encountered "{text[:40]}"') from None
