"""Tokenizer and Pratt parser for the JEXL subset iotagent-node-lib expressions use.

Grammar (TomFrost/Jexl precedences): literals (numbers, 'strings', "strings", true, false, null, [arrays],
{objects}), identifiers, member access ``a.b`` / ``a[i]``, transforms ``value | name(args)`` (postfix, so
``location | split(', ')[1] | parsefloat()`` works), unary ``!`` and ``-``, binary ``^`` ``* / // %``
``+ -`` ``== != < <= > >= in`` ``&& ||`` and the ternary ``a ? b : c``. The AST is made of tuples, so it can
be cached and evaluated without ``eval()``.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

Node = tuple[Any, ...]


class ExpressionSyntaxError(ValueError):
    pass


_TOKEN = re.compile(
    r"""\s*(?:
      (?P<num>\d+\.\d*|\.\d+|\d+)
    | (?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
    | (?P<op>//|==|!=|<=|>=|&&|\|\||[-+*/%^<>!?:|.,\[\](){}])
    | (?P<name>[A-Za-z_$][\w$]*)
    )""",
    re.VERBOSE,
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"'}
_BINARY = {
    "||": 10,
    "&&": 10,
    "==": 20,
    "!=": 20,
    "<": 20,
    "<=": 20,
    ">": 20,
    ">=": 20,
    "in": 20,
    "+": 30,
    "-": 30,
    "*": 40,
    "/": 40,
    "//": 40,
    "%": 40,
    "^": 50,
}
_MAX_DEPTH = 64


def _unescape(raw: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), raw[1:-1])


def tokenize(text: str) -> list[tuple[str, Any]]:
    tokens: list[tuple[str, Any]] = []
    pos = 0
    end = len(text.rstrip())
    while pos < end:
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise ExpressionSyntaxError(f"unexpected character {text[pos : pos + 1]!r} at {pos}")
        pos = match.end()
        kind = match.lastgroup
        value = match.group(kind or "")
        if kind == "num":
            tokens.append(("lit", float(value) if "." in value else int(value)))
        elif kind == "str":
            tokens.append(("lit", _unescape(value)))
        elif kind == "name":
            if value in ("true", "false"):
                tokens.append(("lit", value == "true"))
            elif value == "null":
                tokens.append(("lit", None))
            elif value == "in":
                tokens.append(("op", "in"))
            else:
                tokens.append(("name", value))
        else:
            tokens.append(("op", value))
    return tokens


class _Parser:
    def __init__(self, tokens: list[tuple[str, Any]]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.depth = 0

    def peek(self) -> tuple[str, Any] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def next(self) -> tuple[str, Any]:
        token = self.peek()
        if token is None:
            raise ExpressionSyntaxError("unexpected end of expression")
        self.pos += 1
        return token

    def expect(self, op: str) -> None:
        token = self.next()
        if token != ("op", op):
            raise ExpressionSyntaxError(f"expected {op!r}, found {token[1]!r}")

    def at(self, op: str) -> bool:
        return self.peek() == ("op", op)

    def expression(self) -> Node:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise ExpressionSyntaxError("expression nested too deeply")
        node = self.binary(0)
        if self.at("?"):
            self.next()
            yes = self.expression()
            self.expect(":")
            no = self.expression()
            node = ("cond", node, yes, no)
        self.depth -= 1
        return node

    def binary(self, min_precedence: int) -> Node:
        left = self.unary()
        while True:
            token = self.peek()
            if token is None or token[0] != "op" or token[1] not in _BINARY:
                return left
            precedence = _BINARY[token[1]]
            if precedence <= min_precedence:
                return left
            self.next()
            right = self.binary(precedence)
            left = ("bin", token[1], left, right)

    def unary(self) -> Node:
        if self.at("!") or self.at("-"):
            op = self.next()[1]
            return ("unary", op, self.unary())
        return self.postfix(self.primary())

    def postfix(self, node: Node) -> Node:
        while True:
            if self.at("."):
                self.next()
                kind, name = self.next()
                if kind != "name":
                    raise ExpressionSyntaxError(f"expected a property name after '.', found {name!r}")
                node = ("member", node, ("lit", name))
            elif self.at("["):
                self.next()
                key = self.expression()
                self.expect("]")
                node = ("member", node, key)
            elif self.at("|"):
                self.next()
                kind, name = self.next()
                if kind != "name":
                    raise ExpressionSyntaxError(f"expected a transform name after '|', found {name!r}")
                args: list[Node] = []
                if self.at("("):
                    args = self.arguments(")")
                node = ("transform", name, node, args)
            else:
                return node

    def arguments(self, close: str) -> list[Node]:
        self.next()
        items: list[Node] = []
        while not self.at(close):
            items.append(self.expression())
            if not self.at(close):
                self.expect(",")
        self.next()
        return items

    def primary(self) -> Node:
        kind, value = self.next()
        if kind == "lit":
            return ("lit", value)
        if kind == "name":
            if self.at("("):  # a transform called as a function: name(subject, args...)
                args = self.arguments(")")
                if not args:
                    return ("call", value, [])
                return ("transform", value, args[0], args[1:])
            return ("id", value)
        if value == "(":
            node = self.expression()
            self.expect(")")
            return node
        if value == "[":
            self.pos -= 1
            return ("array", self.arguments("]"))
        if value == "{":
            pairs: list[tuple[str, Node]] = []
            while not self.at("}"):
                key_kind, key = self.next()
                if key_kind not in ("name", "lit") or not isinstance(key, str | int):
                    raise ExpressionSyntaxError(f"invalid object key {key!r}")
                self.expect(":")
                pairs.append((str(key), self.expression()))
                if not self.at("}"):
                    self.expect(",")
            self.next()
            return ("object", pairs)
        raise ExpressionSyntaxError(f"unexpected {value!r}")


@lru_cache(maxsize=4096)
def parse(text: str, max_length: int = 4096) -> Node:
    """Parse once; provisioning checks expressions with this, measures reuse the cached tree."""
    if not isinstance(text, str):
        raise ExpressionSyntaxError("an expression must be a string")
    if len(text) > max_length:
        raise ExpressionSyntaxError(f"expression longer than {max_length} characters")
    parser = _Parser(tokenize(text))
    if parser.peek() is None:
        raise ExpressionSyntaxError("empty expression")
    node = parser.expression()
    if parser.peek() is not None:
        raise ExpressionSyntaxError(f"unexpected {parser.peek()[1]!r}")  # type: ignore[index]
    return node
