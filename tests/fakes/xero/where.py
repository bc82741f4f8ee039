"""The `where` and `order` parameters: a small parser of Xero's filter expressions, and sorting by its
ordering clauses."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from tests.fakes.xero.dates import _MS_DATE

_TOKEN = re.compile(
    r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<op>==|!=|>=|<=|&&|\|\||[><().,!])'
    r"|(?P<num>-?\d+(?:\.\d+)?)|(?P<word>[A-Za-z_][A-Za-z0-9_]*))"
)
_Predicate = Callable[[dict[str, Any]], bool]


class QueryError(ValueError):
    pass


class _WhereParser:
    """`Status=="ACTIVE" AND (Type=="BANK" OR Name.Contains("x"))`, `IsCustomer==true`, `Guid("...")`."""

    def __init__(self, text: str) -> None:
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        text = text.strip()
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if not m or m.end() == pos:
                raise QueryError(f"Unexpected character at position {pos} in where clause")
            kind = m.lastgroup or ""
            self.tokens.append((kind, m.group(kind)))
            pos = m.end()
        self.i = 0
        self.fields: set[str] = set()

    def parse(self) -> _Predicate:
        predicate = self._or()
        if self.i != len(self.tokens):
            raise QueryError(f"Unexpected {self.tokens[self.i][1]!r} in where clause")
        return predicate

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def _take(self, value: str | None = None) -> tuple[str, str]:
        token = self._peek()
        if token is None or (value is not None and token[1].upper() != value.upper()):
            raise QueryError(f"Expected {value or 'more'} in where clause")
        self.i += 1
        return token

    def _or(self) -> _Predicate:
        parts = [self._and()]
        while (t := self._peek()) and t[1].upper() in ("OR", "||"):
            self.i += 1
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else (lambda row: any(p(row) for p in parts))

    def _and(self) -> _Predicate:
        parts = [self._unary()]
        while (t := self._peek()) and t[1].upper() in ("AND", "&&"):
            self.i += 1
            parts.append(self._unary())
        return parts[0] if len(parts) == 1 else (lambda row: all(p(row) for p in parts))

    def _unary(self) -> _Predicate:
        token = self._peek()
        if token and token[1] == "!":
            self.i += 1
            inner = self._unary()
            return lambda row: not inner(row)
        if token and token[1] == "(":
            self.i += 1
            inner = self._or()
            self._take(")")
            return inner
        return self._comparison()

    def _comparison(self) -> _Predicate:
        kind, name = self._take()
        if kind != "word":
            raise QueryError(f"Expected a field name, found {name!r}")
        path = [name]
        while (t := self._peek()) and t[1] == ".":
            self.i += 1
            path.append(self._take()[1])
        method = None
        if (t := self._peek()) and t[1] == "(":
            method = path.pop()
            self._take("(")
            argument = self._literal() if (t := self._peek()) and t[1] != ")" else None
            self._take(")")
        self.fields.add(path[0].lower())
        if method is not None:
            return self._method(path, method, argument)
        kind, op = self._take()
        if op not in ("==", "!=", ">", "<", ">=", "<="):
            raise QueryError(f"Expected a comparison after {'.'.join(path)}")
        literal = self._literal()
        return lambda row: _compare(_lookup(row, path), op, literal)

    def _method(self, path: list[str], method: str, argument: Any) -> _Predicate:
        name = method.lower()
        if name in ("contains", "startswith", "endswith"):
            needle = str(argument or "").casefold()
            check = {
                "contains": lambda v: needle in v,
                "startswith": lambda v: v.startswith(needle),
                "endswith": lambda v: v.endswith(needle),
            }[name]
            return lambda row: isinstance(v := _lookup(row, path), str) and check(v.casefold())
        raise QueryError(f"Unsupported method {method} in where clause")

    def _literal(self) -> Any:
        kind, value = self._take()
        if kind == "str":
            return json.loads(value)
        if kind == "num":
            return float(value) if "." in value else int(value)
        word = value.lower()
        if word in ("true", "false"):
            return word == "true"
        if word == "null":
            return None
        if word == "guid":
            self._take("(")
            inner = self._literal()
            self._take(")")
            return str(inner).lower()
        if word == "datetime":
            self._take("(")
            numbers = [self._literal()]
            while (t := self._peek()) and t[1] == ",":
                self.i += 1
                numbers.append(self._literal())
            self._take(")")
            try:
                return datetime(*numbers).replace(tzinfo=UTC)
            except (TypeError, ValueError) as exc:
                raise QueryError(f"Bad DateTime in where clause: {exc}") from None
        raise QueryError(f"Unexpected {value!r} in where clause")


def _lookup(row: dict[str, Any], path: list[str]) -> Any:
    value: Any = row
    for part in path:
        if not isinstance(value, dict):
            return None
        key = next((k for k in value if k.lower() == part.lower()), None)
        value = value.get(key) if key else None
    return value


def _compare(value: Any, op: str, literal: Any) -> bool:
    if isinstance(literal, datetime) and isinstance(value, str) and (m := _MS_DATE.fullmatch(value)):
        value = datetime.fromtimestamp(int(m.group(1)) / 1000, UTC)
    if isinstance(value, str) and isinstance(literal, str):
        value, literal = value.casefold(), literal.casefold()
    if op == "==":
        return bool(value == literal)
    if op == "!=":
        return bool(value != literal)
    try:
        return bool({">": value > literal, "<": value < literal, ">=": value >= literal, "<=": value <= literal}[op])
    except TypeError:
        return False


def parse_where(text: str) -> tuple[_Predicate, set[str]]:
    """The predicate of a `where` parameter and the (lower-cased) fields it looks at."""
    parser = _WhereParser(text)
    return parser.parse(), parser.fields


def _sort(rows: list[dict[str, Any]], order: str | None, default: list[tuple[str, bool]]) -> None:
    keys = default
    if order:
        keys = []
        for part in order.split(","):
            words = part.split()
            if not words or len(words) > 2 or (len(words) == 2 and words[1].upper() not in ("ASC", "DESC")):
                raise QueryError(f"Cannot order by {part.strip()!r}")
            keys.append((words[0], len(words) == 2 and words[1].upper() == "DESC"))
    for name, descending in reversed(keys):

        def key(row: dict[str, Any], name: str = name) -> tuple[int, Any]:
            value = _lookup(row, [name])
            if isinstance(value, str) and (m := _MS_DATE.fullmatch(value)):
                return (1, int(m.group(1)))
            if isinstance(value, str):
                return (1, value.casefold())
            return (0, 0) if value is None else (1, value)

        try:
            rows.sort(key=key, reverse=descending)
        except TypeError as exc:
            raise QueryError(f"Cannot order by {name}") from exc
