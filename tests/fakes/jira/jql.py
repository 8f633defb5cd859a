"""The subset of JQL the fake Jira understands, with Jira's error answers.

    project = KEY | project in (A, B)        updated >= "2024-01-05 14:30" (also >, <=, <, =)
    created …                                sprint = 12 | sprint in (12, 13)
    issuetype = Bug | status = "In Progress" key = A-1 | key in (A-1, A-2)   (also id, issuekey)
    a AND b, a OR b, NOT a, ( … )            ORDER BY updated ASC, key ASC
                                             (sortable: updated, created, key, id)

Dates are read in the searching user's time zone, to the minute, as Jira reads
them: `updated >= "2024-01-05 14:30"` is every update from 14:30:00.000 on.
Values that name nothing (a project, a sprint) are Jira's 400s.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from tests.fakes.app import HTTPError

_TOKEN = re.compile(
    r'\s*(?:(?P<string>"(?:[^"\\]|\\.)*")|(?P<op>>=|<=|!=|=|>|<)|(?P<punct>[(),])'
    r"|(?P<word>[^\s(),=<>!\"]+))"
)
_DATE_FORMATS = ("%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M", "%Y-%m-%d", "%Y/%m/%d")
_KEY_FIELDS = ("key", "id", "issue", "issuekey")
SORTABLE = ("updated", "created", "key", "id", "issuekey")


class Searchable(Protocol):
    """What a query reads of an issue."""

    id: int
    project: str
    number: int
    issue_type: str
    status: str
    sprints: list[int]
    created_ms: int
    updated_ms: int


class Catalogue(Protocol):
    """What a query checks its values against."""

    def has_project(self, value: str) -> str | None: ...

    def has_sprint(self, sprint_id: int) -> bool: ...


Predicate = Callable[[Searchable], bool]


def jql_error(message: str) -> HTTPError:
    return HTTPError(400, message, payload={"errorMessages": [message], "warningMessages": []})


@dataclass
class Query:
    predicate: Predicate
    order: list[tuple[str, bool]]  # (field, descending)
    fields_named: set[str]

    def sort_key(self, issue: Searchable, project_rank: dict[str, int]) -> tuple[int, ...]:
        """Numbers only, so a keyset page token can carry it as JSON."""
        parts: list[int] = []
        for name, descending in self.order or [("key", False)]:
            if name in ("key", "issuekey"):
                number = project_rank.get(issue.project, 0) * 1_000_000_000 + issue.number
            elif name == "updated":
                number = issue.updated_ms
            elif name == "created":
                number = issue.created_ms
            else:
                number = issue.id
            parts.append(-number if descending else number)
        parts.append(issue.id)  # a total order: keyset tokens never tie
        return tuple(parts)


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    text = text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise jql_error(f"Error in the JQL Query: unexpected character at {position}.")
        kind = match.lastgroup or ""
        value = match.group(kind)
        if kind == "string":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        tokens.append((kind, value))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str, zone: zoneinfo.ZoneInfo, catalogue: Catalogue) -> None:
        self.tokens = _tokens(text)
        self.position = 0
        self.zone = zone
        self.catalogue = catalogue
        self.fields_named: set[str] = set()

    # --- tokens ---------------------------------------------------------------------
    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def next(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise jql_error("Error in the JQL Query: the query ends too early.")
        self.position += 1
        return token

    def keyword(self, word: str) -> bool:
        token = self.peek()
        if token and token[0] == "word" and token[1].lower() == word:
            self.position += 1
            return True
        return False

    def expect(self, kind: str, value: str | None = None) -> str:
        token = self.next()
        if token[0] != kind or (value is not None and token[1] != value):
            raise jql_error(f"Error in the JQL Query: expected {value or kind}, got {token[1]!r}.")
        return token[1]

    # --- grammar ------------------------------------------------------------------------
    def query(self) -> Query:
        predicate: Predicate = lambda issue: True  # noqa: E731
        token = self.peek()
        if token and not (token[0] == "word" and token[1].lower() == "order"):
            predicate = self.or_expression()
        order = self.order_by()
        if self.peek() is not None:
            raise jql_error(f"Error in the JQL Query: unexpected {self.peek()[1]!r}.")
        return Query(predicate, order, self.fields_named)

    def or_expression(self) -> Predicate:
        parts = [self.and_expression()]
        while self.keyword("or"):
            parts.append(self.and_expression())
        if len(parts) == 1:
            return parts[0]
        return lambda issue: any(part(issue) for part in parts)

    def and_expression(self) -> Predicate:
        parts = [self.unary()]
        while self.keyword("and"):
            parts.append(self.unary())
        if len(parts) == 1:
            return parts[0]
        return lambda issue: all(part(issue) for part in parts)

    def unary(self) -> Predicate:
        if self.keyword("not"):
            inner = self.unary()
            return lambda issue: not inner(issue)
        token = self.peek()
        if token == ("punct", "("):
            self.next()
            inner = self.or_expression()
            self.expect("punct", ")")
            return inner
        return self.clause()

    def values(self) -> list[str]:
        self.expect("punct", "(")
        values = [self.value()]
        while self.peek() == ("punct", ","):
            self.next()
            values.append(self.value())
        self.expect("punct", ")")
        return values

    def value(self) -> str:
        kind, value = self.next()
        if kind not in ("string", "word"):
            raise jql_error(f"Error in the JQL Query: expected a value, got {value!r}.")
        return value

    def clause(self) -> Predicate:
        field = self.expect("word").lower()
        self.fields_named.add(field)
        negated = self.keyword("not")
        if self.keyword("in"):
            values = self.values()
            operator = "not in" if negated else "in"
        elif negated:
            raise jql_error("Error in the JQL Query: expected IN after NOT.")
        else:
            operator = self.expect("op")
            values = [self.value()]
        return self.build(field, operator, values)

    def order_by(self) -> list[tuple[str, bool]]:
        if not self.keyword("order"):
            return []
        if not self.keyword("by"):
            raise jql_error("Error in the JQL Query: expected BY after ORDER.")
        order = []
        while True:
            field = self.expect("word").lower()
            if field not in SORTABLE:
                raise jql_error(f"Field '{field}' does not exist or cannot be sorted on.")
            descending = False
            if self.keyword("desc"):
                descending = True
            else:
                self.keyword("asc")
            order.append((field, descending))
            if self.peek() != ("punct", ","):
                return order
            self.next()

    # --- clauses -----------------------------------------------------------------------
    def build(self, field: str, operator: str, values: list[str]) -> Predicate:
        if field == "project":
            keys = {self._project(value) for value in values}
            return _membership(lambda issue: issue.project, keys, operator)
        if field in ("updated", "created"):
            if operator in ("in", "not in"):
                raise jql_error(
                    f"The operator '{operator}' is not supported by the '{field}' field."
                )
            bound = self._date(field, values[0])
            attribute = "updated_ms" if field == "updated" else "created_ms"
            return _comparison(lambda issue: getattr(issue, attribute), operator, bound)
        if field == "sprint":
            ids = set()
            for value in values:
                if not value.isdigit() or not self.catalogue.has_sprint(int(value)):
                    raise jql_error(f"The value '{value}' does not exist for the field 'sprint'.")
                ids.add(int(value))
            wanted = operator in ("=", "in")
            if operator not in ("=", "in", "!=", "not in"):
                raise jql_error(
                    f"The operator '{operator}' is not supported by the 'sprint' field."
                )
            return lambda issue: bool(ids.intersection(issue.sprints)) == wanted
        if field in ("issuetype", "type"):
            names = {value.lower() for value in values}
            return _membership(lambda issue: issue.issue_type.lower(), names, operator)
        if field == "status":
            names = {value.lower() for value in values}
            return _membership(lambda issue: issue.status.lower(), names, operator)
        if field in _KEY_FIELDS:
            wanted_keys = {value.upper() for value in values}
            if all(value.isdigit() for value in wanted_keys):
                return _membership(lambda issue: str(issue.id), wanted_keys, operator)
            return _membership(
                lambda issue: f"{issue.project}-{issue.number}", wanted_keys, operator
            )
        raise jql_error(f"Field '{field}' does not exist or you do not have permission to view it.")

    def _project(self, value: str) -> str:
        key = self.catalogue.has_project(value)
        if key is None:
            raise jql_error(f"The value '{value}' does not exist for the field 'project'.")
        return key

    def _date(self, field: str, value: str) -> int:
        for layout in _DATE_FORMATS:
            try:
                local = dt.datetime.strptime(value, layout)
            except ValueError:
                continue
            return int(local.replace(tzinfo=self.zone).timestamp() * 1000)
        raise jql_error(
            f"Date value '{value}' for field '{field}' is invalid. Valid formats include: "
            "'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period "
            "format e.g. '-5d', '4w 2d'."
        )


def _membership(read: Callable[[Searchable], Any], values: set[Any], operator: str) -> Predicate:
    if operator in ("=", "in"):
        return lambda issue: read(issue) in values
    if operator in ("!=", "not in"):
        return lambda issue: read(issue) not in values
    raise jql_error(f"The operator '{operator}' is not supported here.")


def _comparison(read: Callable[[Searchable], int], operator: str, bound: int) -> Predicate:
    comparisons: dict[str, Callable[[int], bool]] = {
        ">=": lambda value: value >= bound,
        ">": lambda value: value > bound,
        "<=": lambda value: value <= bound,
        "<": lambda value: value < bound,
        "=": lambda value: bound <= value < bound + 60_000,  # the same minute
        "!=": lambda value: not bound <= value < bound + 60_000,
    }
    check = comparisons[operator]
    return lambda issue: check(read(issue))


def parse(text: str, *, time_zone: str, catalogue: Catalogue) -> Query:
    """A query, or HTTPError(400) in Jira's shape."""
    return _Parser(text, zoneinfo.ZoneInfo(time_zone), catalogue).query()
