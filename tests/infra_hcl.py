"""The Terraform modules under infra/, read offline for the tests (no terraform binary, no AWS).

python-hcl2 (bc-python-hcl2, in the project's .venv) parses each file; what it gives back for an expression is the
expression's text (``"${...}"``), so this module carries a small evaluator for the part of HCL the modules use:
literals, ``local.`` / ``each.`` / ``count.`` / ``var.`` references, resource and data references, indexing,
operators, conditionals, ``for`` expressions and the collection functions (merge, concat, keys, values, flatten,
compact, distinct, ...). Anything that depends on an input (``var.``, a data source's answer) is *unknown*; a
conditional on an unknown evaluates to both branches, so every evaluation returns the list of values the
expression can take over all configurations. That is what the IAM tests want: a statement that some
configuration attaches counts as granted.

Shared by the infra tests (a helper module, not a test module: test modules do not import each other's private
names).
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
INFRA = ROOT / "infra"
MODULES = INFRA / "modules"
MAX_POSSIBILITIES = 4096


# ---- loading --------------------------------------------------------------------------------------------------------
def tf_files(folder: Path = INFRA) -> list[Path]:
    return sorted(p for p in folder.rglob("*.tf") if ".terraform" not in p.parts)


@cache
def _wrapped() -> bool:
    """Whether the installed parser wraps every attribute value in a one-element list (bc-python-hcl2 does)."""
    import hcl2

    return hcl2.loads('a = "x"\n')["a"] == ["x"]


@cache
def parse_file(path: Path) -> dict[str, Any]:
    import hcl2

    with path.open() as f:
        return hcl2.load(f)


class HclError(AssertionError):
    """The Terraform says something this reader does not understand: teach it, or spell the Terraform plainly."""


# ---- values ---------------------------------------------------------------------------------------------------------
class _Unknown:
    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<unknown>"


UNKNOWN = _Unknown()


@dataclass(frozen=True)
class Ref:
    """A reference to a resource or data source (``type`` is ``aws_x`` or ``data.aws_x``), its instance key and
    the attributes read from it."""

    type: str
    name: str
    key: Any = None
    attrs: tuple[str, ...] = ()

    @property
    def address(self) -> str:
        return f"{self.type}.{self.name}" + ("" if self.key is None else f"[{self.key!r}]")

    def __str__(self) -> str:
        return ".".join([self.address, *self.attrs])


@dataclass(frozen=True)
class Pattern:
    """A string with unknown parts (``*``), e.g. an ARN built from the partition."""

    glob: str


@dataclass(frozen=True)
class Json:
    """``jsonencode(value)``."""

    value: Any


@dataclass(frozen=True)
class _Namespace:
    kind: str  # "local", "data", "data_type", "resource_type"
    name: str = ""


def _key(v: Any) -> str:
    return repr(v)


def _dedupe(values: list[Any]) -> list[Any]:
    seen, out = set(), []
    for v in values:
        k = _key(v)
        if k not in seen:
            seen.add(k)
            out.append(v)
    return out


# ---- expression text: templates, tokens, syntax -------------------------------------------------------------------
def _skip_string(s: str, i: int) -> int:
    """The index after the string literal starting at ``s[i]`` (a quote), interpolations included."""
    quote, i = s[i], i + 1
    while i < len(s):
        c = s[i]
        if c == "\\":
            i += 2
            continue
        if c == quote:
            return i + 1
        if s.startswith("${", i):
            i = _interpolation_end(s, i + 2) + 1
            continue
        i += 1
    raise HclError(f"unterminated string in {s!r}")


def _interpolation_end(s: str, i: int) -> int:
    """The index of the ``}`` closing an interpolation whose content starts at ``i``."""
    depth = 0
    while i < len(s):
        c = s[i]
        if c in "\"'":
            i = _skip_string(s, i)
            continue
        if c in "{[(":
            depth += 1
        elif c in "}])":
            if depth == 0:
                if c != "}":
                    raise HclError(f"unbalanced {c!r} in {s!r}")
                return i
            depth -= 1
        i += 1
    raise HclError(f"unterminated interpolation in {s!r}")


def template_parts(s: str) -> list[tuple[str, str]]:
    """A string as ("lit", text) and ("expr", expression text) parts."""
    parts: list[tuple[str, str]] = []
    buf, i = [], 0
    while i < len(s):
        if s.startswith("$${", i):
            buf.append("${")
            i += 3
        elif s.startswith("${", i):
            if buf:
                parts.append(("lit", "".join(buf)))
                buf = []
            end = _interpolation_end(s, i + 2)
            parts.append(("expr", s[i + 2 : end].strip()))
            i = end + 1
        else:
            buf.append(s[i])
            i += 1
    if buf:
        parts.append(("lit", "".join(buf)))
    return parts


_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_-]*)|"
    r"(?P<op>\.\.\.|=>|==|!=|>=|<=|&&|\|\||[-+*/%<>!?:.,=\[\](){}]))"
)


def _tokens(text: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    i = 0
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        if text[i] in "\"'":
            end = _skip_string(text, i)
            out.append(("str", _unescape(text[i + 1 : end - 1], text[i])))
            i = end
            continue
        m = _TOKEN.match(text, i)
        if not m or m.end() == i:
            raise HclError(f"cannot read {text[i:]!r} in {text!r}")
        kind = m.lastgroup or "op"
        value: Any = m.group(kind)
        if kind == "num":
            value = float(value) if "." in value else int(value)
        out.append((kind, value))
        i = m.end()
    out.append(("end", None))
    return out


def _unescape(body: str, quote: str) -> str:
    """The text of a string literal, interpolations left as they are (evaluated as a template later)."""
    out, i = [], 0
    while i < len(body):
        if body[i] == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            out.append({"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'"}.get(nxt, "\\" + nxt))
            i += 2
        elif body.startswith("${", i):
            end = _interpolation_end(body, i + 2)
            out.append(body[i : end + 1])
            i = end + 1
        else:
            out.append(body[i])
            i += 1
    return "".join(out)


class _Parser:
    """HCL expressions as nested tuples: ("lit", v), ("str", template text), ("var", name), ("get", x, name),
    ("idx", x, e), ("splat", x), ("call", name, args), ("list", items), ("obj", [(k, v)]), ("for", ...),
    ("un", op, x), ("bin", op, a, b), ("cond", c, a, b)."""

    BINARY = (("||",), ("&&",), ("==", "!="), ("<", ">", "<=", ">="), ("+", "-"), ("*", "/", "%"))

    def __init__(self, text: str):
        self.text = text
        self.toks = _tokens(text)
        self.i = 0

    def peek(self, offset: int = 0) -> tuple[str, Any]:
        return self.toks[min(self.i + offset, len(self.toks) - 1)]

    def take(self, value: str | None = None) -> tuple[str, Any]:
        tok = self.toks[self.i]
        if value is not None and tok[1] != value:
            raise HclError(f"expected {value!r} at {tok!r} in {self.text!r}")
        self.i += 1
        return tok

    def at(self, *values: str) -> bool:
        kind, value = self.peek()
        return kind in ("op", "name") and value in values

    def parse(self) -> tuple:
        node = self.expr()
        if self.peek()[0] != "end":
            raise HclError(f"unexpected {self.peek()!r} in {self.text!r}")
        return node

    def expr(self) -> tuple:
        cond = self.binary(0)
        if self.at("?"):
            self.take("?")
            yes = self.expr()
            self.take(":")
            no = self.expr()
            return ("cond", cond, yes, no)
        return cond

    def binary(self, level: int) -> tuple:
        if level == len(self.BINARY):
            return self.unary()
        node = self.binary(level + 1)
        while self.peek()[0] == "op" and self.peek()[1] in self.BINARY[level]:
            op = self.take()[1]
            node = ("bin", op, node, self.binary(level + 1))
        return node

    def unary(self) -> tuple:
        if self.at("!", "-"):
            op = self.take()[1]
            return ("un", op, self.unary())
        return self.postfix(self.primary())

    def postfix(self, node: tuple) -> tuple:
        while True:
            if self.at("."):
                self.take(".")
                kind, value = self.take()
                if value == "*":
                    node = ("splat", node)
                elif kind == "num":
                    node = ("idx", node, ("lit", value))
                else:
                    node = ("get", node, value)
            elif self.at("["):
                if self.peek(1) == ("op", "*") and self.peek(2) == ("op", "]"):
                    self.i += 3
                    node = ("splat", node)
                else:
                    self.take("[")
                    index = self.expr()
                    self.take("]")
                    node = ("idx", node, index)
            else:
                return node

    def primary(self) -> tuple:
        kind, value = self.peek()
        if kind == "num":
            self.take()
            return ("lit", value)
        if kind == "str":
            self.take()
            return ("str", value)
        if kind == "name":
            self.take()
            if value in ("true", "True"):
                return ("lit", True)
            if value in ("false", "False"):
                return ("lit", False)
            if value in ("null", "None"):
                return ("lit", None)
            if self.at("("):
                self.take("(")
                args = []
                while not self.at(")"):
                    args.append(self.expr())
                    if self.at("..."):
                        self.take("...")
                    if self.at(","):
                        self.take(",")
                self.take(")")
                return ("call", value, args)
            return ("var", value)
        if value == "(":
            self.take("(")
            node = self.expr()
            self.take(")")
            return node
        if value == "[":
            return self.bracket()
        if value == "{":
            return self.brace()
        raise HclError(f"unexpected {value!r} in {self.text!r}")

    def _for_head(self) -> tuple[str | None, str]:
        self.take("for")
        first = self.take()[1]
        second = None
        if self.at(","):
            self.take(",")
            second = self.take()[1]
        self.take("in")
        return (first, second) if second else (None, first)

    def bracket(self) -> tuple:
        self.take("[")
        if self.at("for"):
            key, value = self._for_head()
            coll = self.expr()
            self.take(":")
            item = self.expr()
            cond = None
            if self.at("if"):
                self.take("if")
                cond = self.expr()
            self.take("]")
            return ("for", "list", key, value, coll, None, item, cond)
        items = []
        while not self.at("]"):
            items.append(self.expr())
            if self.at(","):
                self.take(",")
        self.take("]")
        return ("list", items)

    def brace(self) -> tuple:
        self.take("{")
        if self.at("for"):
            key, value = self._for_head()
            coll = self.expr()
            self.take(":")
            kexpr = self.expr()
            self.take("=>")
            vexpr = self.expr()
            if self.at("..."):
                self.take("...")
            cond = None
            if self.at("if"):
                self.take("if")
                cond = self.expr()
            self.take("}")
            return ("for", "obj", key, value, coll, kexpr, vexpr, cond)
        pairs = []
        while not self.at("}"):
            k = ("lit", self.take()[1]) if self.peek()[0] == "name" and self.peek(1)[1] in ("=", ":") else self.expr()
            self.take()  # "=" or ":"
            pairs.append((k, self.expr()))
            if self.at(","):
                self.take(",")
        self.take("}")
        return ("obj", pairs)


@cache
def parse_expression(text: str) -> tuple:
    return _Parser(text).parse()


# ---- evaluation ---------------------------------------------------------------------------------------------------
def _product(lists: list[list[Any]]) -> Iterator[tuple]:
    total = 1
    for options in lists:
        total *= max(len(options), 1)
    if total > MAX_POSSIBILITIES:
        raise HclError(f"an expression with {total} possible values: spell it more plainly")
    return itertools.product(*lists)


def _truth(v: Any) -> bool | _Unknown:
    return v if isinstance(v, bool) else UNKNOWN


def _compare(op: str, a: Any, b: Any) -> Any:
    if a is UNKNOWN or b is UNKNOWN or isinstance(a, Ref | Pattern) or isinstance(b, Ref | Pattern):
        return UNKNOWN
    try:
        return {
            "==": lambda: a == b, "!=": lambda: a != b, "<": lambda: a < b, ">": lambda: a > b,
            "<=": lambda: a <= b, ">=": lambda: a >= b,
        }[op]()  # fmt: skip
    except TypeError:
        return UNKNOWN


def _arith(op: str, a: Any, b: Any) -> Any:
    if not (isinstance(a, int | float) and isinstance(b, int | float)) or isinstance(a, bool) or isinstance(b, bool):
        return UNKNOWN
    if op in "/%" and b == 0:
        return UNKNOWN
    return {"+": a + b, "-": a - b, "*": a * b, "/": a / b if op == "/" else 0, "%": a % b if op == "%" else 0}[op]


def _contains_unknown(v: Any) -> bool:
    if v is UNKNOWN:
        return True
    if isinstance(v, list):
        return any(_contains_unknown(x) for x in v)
    if isinstance(v, dict):
        return any(_contains_unknown(x) for x in v.values())
    return False


def _flatten(v: Any) -> list[Any]:
    return [y for x in v for y in (_flatten(x) if isinstance(x, list) else [x])]


def _function(name: str, args: tuple) -> Any:
    if name == "jsonencode":
        return Json(args[0])
    if any(a is UNKNOWN for a in args):
        return UNKNOWN
    try:
        if name == "merge":
            out: dict = {}
            for a in args:
                out.update(a or {})
            return out
        if name == "concat":
            return [x for a in args for x in a]
        if name == "keys":
            return sorted(args[0])
        if name == "values":
            return [args[0][k] for k in sorted(args[0])]
        if name == "flatten":
            return _flatten(args[0])
        if name == "compact":
            return UNKNOWN if _contains_unknown(args[0]) else [x for x in args[0] if x not in ("", None)]
        if name in ("distinct", "toset"):
            return _dedupe(list(args[0]))
        if name == "tolist":
            return list(args[0])
        if name == "tomap":
            return dict(args[0])
        if name == "tostring":
            return args[0] if isinstance(args[0], str) else UNKNOWN
        if name == "length":
            return UNKNOWN if _contains_unknown(args[0]) and not isinstance(args[0], list | dict) else len(args[0])
        if name == "coalesce":
            return next((a for a in args if a not in ("", None)), None)
        if name == "contains":
            return UNKNOWN if _contains_unknown(args[0]) else args[1] in args[0]
    except (TypeError, KeyError, AttributeError):
        return UNKNOWN
    return UNKNOWN


class Scope(dict):
    """Names an expression may read besides the module's: ``each``, ``count`` and for-expression variables."""


class Module:
    """One folder of .tf files: resources, data sources, locals and variables, with the evaluator."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.name = folder.name
        self.files = {p.name: parse_file(p) for p in tf_files(folder) if p.parent == folder}
        self.source = {p.name: p.read_text() for p in folder.glob("*.tf")}
        self.raw_locals: dict[str, Any] = {}
        self.resources: dict[tuple[str, str], dict] = {}
        self.where: dict[tuple[str, str], str] = {}
        for file_name, doc in self.files.items():
            for block in doc.get("locals", []):
                self.raw_locals.update({k: v for k, v in block.items() if not k.startswith("__")})
            for kind, prefix in (("resource", ""), ("data", "data.")):
                for block in doc.get(kind, []):
                    for rtype, named in block.items():
                        for name, body in named.items():
                            self.resources[(prefix + rtype, name)] = body
                            line = body.get("__start_line__", "?")
                            self.where[(prefix + rtype, name)] = f"{self.rel}/{file_name}:{line}"
        self._locals: dict[str, list[Any]] = {}
        self._evaluating: set[str] = set()

    @property
    def rel(self) -> str:
        return self.folder.relative_to(ROOT).as_posix()

    def of_type(self, rtype: str) -> dict[str, dict]:
        return {name: body for (t, name), body in self.resources.items() if t == rtype}

    # -- raw values
    @staticmethod
    def attr_raw(body: dict, name: str, default: Any = None) -> Any:
        if name not in body:
            return default
        v = body[name]
        if _wrapped() and isinstance(v, list) and len(v) == 1:
            return v[0]
        return v

    @staticmethod
    def blocks(body: dict, name: str) -> list[dict]:
        """The nested blocks ``name`` of a body (dynamic blocks' contents not included)."""
        v = body.get(name, [])
        return [b for b in (v if isinstance(v, list) else [v]) if isinstance(b, dict)]

    @staticmethod
    def dynamic_blocks(body: dict, name: str) -> list[dict]:
        """The ``content`` of the ``dynamic "<name>"`` blocks of a body."""
        out = []
        for dynamic in body.get("dynamic", []):
            for label, spec in dynamic.items():
                if label == name:
                    content = spec.get("content", [])
                    out.extend(content if isinstance(content, list) else [content])
        return out

    # -- evaluation
    def evaluate(self, raw: Any, scope: Scope | None = None) -> list[Any]:
        """Every value ``raw`` (a value as the parser gives it) can take."""
        scope = scope if scope is not None else Scope()
        if isinstance(raw, str):
            return self._template(raw, scope)
        if isinstance(raw, list):
            return [list(c) for c in _product([self.evaluate(x, scope) for x in raw])]
        if isinstance(raw, dict):
            keys = [k for k in raw if not str(k).startswith("__")]
            combos = _product([self.evaluate(raw[k], scope) for k in keys])
            return _dedupe([dict(zip(keys, c, strict=True)) for c in combos])
        return [raw]

    def attr(self, body: dict, name: str, scope: Scope | None = None, default: Any = None) -> list[Any]:
        if name not in body:
            return [default]
        return self.evaluate(self.attr_raw(body, name), scope)

    def local(self, name: str) -> list[Any]:
        if name not in self._locals:
            if name not in self.raw_locals:
                raise HclError(f"{self.rel}: no local {name!r}")
            if name in self._evaluating:
                raise HclError(f"{self.rel}: local.{name} refers to itself")
            self._evaluating.add(name)
            try:
                self._locals[name] = _dedupe(self.evaluate(self.attr_raw(self.raw_locals, name)))
            finally:
                self._evaluating.discard(name)
        return self._locals[name]

    def _template(self, text: str, scope: Scope) -> list[Any]:
        parts = template_parts(text)
        if len(parts) == 1 and parts[0][0] == "expr":
            return self.expr(parse_expression(parts[0][1]), scope)
        options = [[p[1]] if p[0] == "lit" else self.expr(parse_expression(p[1]), scope) for p in parts]
        out = []
        for combo in _product(options):
            if all(isinstance(c, str | int | float) and not isinstance(c, bool) for c in combo):
                out.append("".join(str(c) for c in combo))
            else:
                known = [str(c) if isinstance(c, str | int | float) else c.glob if isinstance(c, Pattern) else "*"
                         for c in combo]  # fmt: skip
                out.append(Pattern("".join(known)))
        return _dedupe(out)

    def expr(self, node: tuple, scope: Scope) -> list[Any]:
        kind = node[0]
        if kind == "lit":
            return [node[1]]
        if kind == "str":
            return self._template(node[1], scope)
        if kind == "var":
            name = node[1]
            if name in scope:
                return [scope[name]]
            if name == "local":
                return [_Namespace("local")]
            if name == "data":
                return [_Namespace("data")]
            if name in ("var", "path", "module", "terraform", "self"):
                return [UNKNOWN]
            if name in ("each", "count"):
                raise HclError(f"{self.rel}: {name} used outside a for_each / count")
            return [_Namespace("resource_type", name)]
        if kind == "get":
            out = []
            for base in self.expr(node[1], scope):
                out.extend(self._get(base, node[2]))
            return _dedupe(out)
        if kind == "idx":
            out = []
            for base, index in _product([self.expr(node[1], scope), self.expr(node[2], scope)]):
                out.append(self._index(base, index))
            return _dedupe(out)
        if kind == "splat":
            return [UNKNOWN]
        if kind == "list":
            return [list(c) for c in _product([self.expr(x, scope) for x in node[1]])]
        if kind == "obj":
            out = []
            for combo in _product([self.expr(x, scope) for pair in node[1] for x in pair]):
                out.append({combo[i]: combo[i + 1] for i in range(0, len(combo), 2)})
            return _dedupe(out)
        if kind == "call":
            name, args = node[1], node[2]
            if name in ("try", "can"):
                try:
                    first = self.expr(args[0], scope)
                except HclError:
                    first = [UNKNOWN]
                return [UNKNOWN] if name == "can" else _dedupe([*first, UNKNOWN])
            return _dedupe([_function(name, combo) for combo in _product([self.expr(a, scope) for a in args])])
        if kind == "un":
            out = []
            for v in self.expr(node[2], scope):
                if node[1] == "!":
                    out.append(not v if isinstance(v, bool) else UNKNOWN)
                else:
                    out.append(-v if isinstance(v, int | float) and not isinstance(v, bool) else UNKNOWN)
            return _dedupe(out)
        if kind == "bin":
            return self._binary(node, scope)
        if kind == "cond":
            out = []
            for c in self.expr(node[1], scope):
                t = _truth(c)
                if t is True or t is UNKNOWN:
                    out.extend(self.expr(node[2], scope))
                if t is False or t is UNKNOWN:
                    out.extend(self.expr(node[3], scope))
            return _dedupe(out)
        if kind == "for":
            return self._for(node, scope)
        raise HclError(f"unknown node {node!r}")

    def _binary(self, node: tuple, scope: Scope) -> list[Any]:
        op = node[1]
        out = []
        for a in self.expr(node[2], scope):
            if op in ("&&", "||"):
                ta = _truth(a)
                if (op == "&&" and ta is False) or (op == "||" and ta is True):
                    out.append(ta)
                    continue
                for b in self.expr(node[3], scope):
                    tb = _truth(b)
                    if op == "&&":
                        out.append(False if tb is False else (tb if ta is True else UNKNOWN))
                    else:
                        out.append(True if tb is True else (tb if ta is False else UNKNOWN))
                continue
            for b in self.expr(node[3], scope):
                out.append(_compare(op, a, b) if op in ("==", "!=", "<", ">", "<=", ">=") else _arith(op, a, b))
        return _dedupe(out)

    def _for(self, node: tuple, scope: Scope) -> list[Any]:
        _, shape, key_name, value_name, coll, kexpr, vexpr, cond = node
        out = []
        for collection in self.expr(coll, scope):
            if collection is UNKNOWN or isinstance(collection, Ref | Pattern):
                out.append(UNKNOWN)
                continue
            items = list(collection.items()) if isinstance(collection, dict) else list(enumerate(collection))
            per_item: list[list[Any]] = []
            for k, v in items:
                inner = Scope(scope)
                inner[value_name] = v
                if key_name:
                    inner[key_name] = k
                keep = [True] if cond is None else [_truth(c) for c in self.expr(cond, inner)]
                entries = []
                for t in _dedupe(keep):
                    if t is False:
                        entries.append(None)
                        continue
                    if t is UNKNOWN:
                        entries.append(None)
                    for value in self.expr(vexpr, inner):
                        for key in self.expr(kexpr, inner) if shape == "obj" else [None]:
                            entries.append((key, value))
                per_item.append(_dedupe(entries))
            for combo in _product(per_item):
                kept = [e for e in combo if e is not None]
                out.append({k: v for k, v in kept} if shape == "obj" else [v for _, v in kept])
        return _dedupe(out)

    def _get(self, base: Any, name: str) -> list[Any]:
        if isinstance(base, _Namespace):
            if base.kind == "local":
                return self.local(name)
            if base.kind == "data":
                return [_Namespace("data_type", name)]
            if base.kind == "data_type":
                return [Ref("data." + base.name, name)]
            return [Ref(base.name, name)]
        if isinstance(base, Ref):
            return [Ref(base.type, base.name, base.key, (*base.attrs, name))]
        if isinstance(base, dict):
            return [base.get(name, UNKNOWN)]
        return [UNKNOWN]

    @staticmethod
    def _index(base: Any, index: Any) -> Any:
        if isinstance(base, Ref):
            if base.key is None and not base.attrs:
                return Ref(base.type, base.name, index)
            return Ref(base.type, base.name, base.key, (*base.attrs, f"[{index!r}]"))
        if index is UNKNOWN:
            return UNKNOWN
        if isinstance(base, dict):
            return base.get(index, UNKNOWN)
        if isinstance(base, list) and isinstance(index, int) and 0 <= index < len(base):
            return base[index]
        return UNKNOWN

    # -- instances of a resource
    def instances(self, body: dict) -> list[tuple[Any, Scope]]:
        """(key, scope) for each instance a resource may have in some configuration: its for_each keys (with
        ``each``), its count indexes (with ``count``; one for an unknown count), or the one instance. A key whose
        value differs between configurations comes once per value."""
        if "for_each" in body:
            out: dict[str, tuple[Any, Scope]] = {}
            for coll in self.attr(body, "for_each"):
                pairs = (
                    coll.items() if isinstance(coll, dict) else [(v, v) for v in coll] if isinstance(coll, list) else []
                )
                if not isinstance(coll, dict | list):
                    pairs = [(UNKNOWN, UNKNOWN)]
                for k, v in pairs:
                    out.setdefault(_key((k, v)), (k, Scope(each={"key": k, "value": v})))
            return list(out.values())
        if "count" in body:
            counts = self.attr(body, "count")
            n = max((c if isinstance(c, int) else 1 for c in counts), default=0)
            return [(i, Scope(count={"index": i})) for i in range(n)]
        return [(None, Scope())]


@cache
def module(name: str) -> Module:
    return Module(MODULES / name)


# ---- Lambda functions and their roles ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Function:
    """One deployed Lambda function: ``handler.<handler>`` of its module's zip, and the roles it may run as."""

    module: str
    resource: str
    key: Any
    handler: str
    roles: frozenset[Ref]
    where: str

    @property
    def id(self) -> str:
        return f"{self.module}:aws_lambda_function.{self.resource}" + ("" if self.key is None else f"[{self.key}]")

    @property
    def ref(self) -> Ref:
        return Ref("aws_lambda_function", self.resource, self.key)


def lambda_functions(mod: Module) -> list[Function]:
    out = []
    for name, body in mod.of_type("aws_lambda_function").items():
        where = mod.where[("aws_lambda_function", name)]
        by_key: dict[str, list[tuple[Any, Scope]]] = {}
        for key, scope in mod.instances(body):
            by_key.setdefault(_key(key), []).append((key, scope))
        for instances in by_key.values():
            key = instances[0][0]
            handlers = {h for _, s in instances for h in mod.attr(body, "handler", s) if h is not None}
            for image in mod.blocks(body, "image_config"):  # a container image: its command names the handler
                handlers |= {
                    c[0] for _, s in instances for c in mod.attr(image, "command", s) if isinstance(c, list) and c
                }
            if len(handlers) != 1 or not str(next(iter(handlers))).startswith("handler."):
                raise HclError(f"{where}: aws_lambda_function.{name}[{key!r}] has the handler {handlers!r}")
            roles = set()
            for role in (r for _, s in instances for r in mod.attr(body, "role", s)):
                if not (isinstance(role, Ref) and role.type == "aws_iam_role"):
                    raise HclError(f"{where}: aws_lambda_function.{name}[{key!r}] runs as {role!r}: not a role")
                roles.add(Ref(role.type, role.name, role.key))
            handler = str(next(iter(handlers))).split(".", 1)[1]
            out.append(Function(mod.name, name, key, handler, frozenset(roles), where))
    return out


def _same_resource(ref: Any, target: Ref) -> bool:
    return isinstance(ref, Ref) and (ref.type, ref.name, ref.key) == (target.type, target.name, target.key)


@dataclass(frozen=True)
class Grant:
    action: str
    effect: str  # Allow | Deny
    where: str  # the document or policy, file:line and sid
    not_action: bool = False


# AWS managed policies a module might attach to a Lambda role: their actions (as AWS publishes them).
MANAGED_POLICIES = {
    "service-role/AWSLambdaBasicExecutionRole": ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"),
    "service-role/AWSLambdaVPCAccessExecutionRole": (
        "logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "ec2:CreateNetworkInterface",
        "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets", "ec2:DeleteNetworkInterface",
        "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses",
    ),
    "service-role/AWSLambdaSQSQueueExecutionRole": (
        "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "logs:CreateLogGroup",
        "logs:CreateLogStream", "logs:PutLogEvents",
    ),
    "AWSXRayDaemonWriteAccess": (
        "xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets",
        "xray:GetSamplingStatisticSummaries",
    ),
}  # fmt: skip


def _as_list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else [v]


@dataclass
class RoleReader:
    """What each role of a module is granted, over every configuration of the module."""

    mod: Module
    _docs: dict[tuple, list[Grant]] = field(default_factory=dict)

    def grants(self, role: Ref) -> list[Grant]:
        mod, out = self.mod, []
        for rtype, attached in (("aws_iam_role_policy", "policy"), ("aws_iam_role_policy_attachment", "policy_arn")):
            for name, body in mod.of_type(rtype).items():
                for key, scope in mod.instances(body):
                    if not any(_same_resource(r, role) for r in mod.attr(body, "role", scope)):
                        continue
                    where = f"{mod.where[(rtype, name)]} {rtype}.{name}" + ("" if key is None else f"[{key!r}]")
                    for policy in mod.attr(body, attached, scope):
                        out += self.policy(policy, where)
        role_body = mod.resources.get(("aws_iam_role", role.name))
        if role_body is None:
            raise HclError(f"{mod.rel}: no aws_iam_role.{role.name}")
        _, role_scope = next(((k, s) for k, s in mod.instances(role_body) if k == role.key), (None, Scope()))
        where = f"{mod.where[('aws_iam_role', role.name)]} aws_iam_role.{role.name}"
        for inline in mod.blocks(role_body, "inline_policy"):
            for policy in mod.attr(inline, "policy", role_scope):
                out += self.policy(policy, f"{where} inline_policy")
        for arns in mod.attr(role_body, "managed_policy_arns", role_scope, default=[]):
            for arn in _as_list(arns):
                out += self.policy(arn, f"{where} managed_policy_arns")
        return out

    def policy(self, policy: Any, where: str) -> list[Grant]:
        """The statements of a policy value: a policy document's json, jsonencode(...), a JSON string, an
        aws_iam_policy, or an AWS managed policy's ARN."""
        mod = self.mod
        if isinstance(policy, Ref) and policy.type == "data.aws_iam_policy_document":
            return self.document(policy)
        if isinstance(policy, Ref) and policy.type == "aws_iam_policy":
            body = mod.resources[("aws_iam_policy", policy.name)]
            _, scope = next(((k, s) for k, s in mod.instances(body) if k == policy.key), (None, Scope()))
            out = []
            for p in mod.attr(body, "policy", scope):
                out += self.policy(p, f"{mod.where[('aws_iam_policy', policy.name)]} aws_iam_policy.{policy.name}")
            return out
        if isinstance(policy, Json):
            return self._json_statements(policy.value, where)
        text = policy.glob if isinstance(policy, Pattern) else policy
        if isinstance(text, str) and ":iam::aws:policy/" in text:
            name = text.split(":iam::aws:policy/", 1)[1]
            if name not in MANAGED_POLICIES:
                raise HclError(f"{where}: the managed policy {name} is not in infra_hcl.MANAGED_POLICIES")
            return [Grant(a, "Allow", f"{where} ({name})") for a in MANAGED_POLICIES[name]]
        if isinstance(policy, str) and policy.lstrip().startswith("{"):
            return self._json_statements(json.loads(policy), where)
        raise HclError(f"{where}: cannot read the policy {policy!r}")

    def _json_statements(self, doc: Any, where: str) -> list[Grant]:
        out = []
        for i, s in enumerate(_as_list(doc.get("Statement", []) if isinstance(doc, dict) else [])):
            effect = s.get("Effect", "Allow")
            at = f"{where} Statement[{i}]" + (f" {s['Sid']}" if s.get("Sid") else "")
            out += [Grant(a, effect, at) for a in _as_list(s.get("Action", []))]
            out += [Grant(a, effect, at, not_action=True) for a in _as_list(s.get("NotAction", []))]
        for g in out:
            if not isinstance(g.action, str) or not isinstance(g.effect, str):
                raise HclError(f"{where}: a statement spelled {g!r}")
        return out

    def document(self, ref: Ref) -> list[Grant]:
        cache_key = (ref.name, _key(ref.key))
        if cache_key in self._docs:
            return self._docs[cache_key]
        mod = self.mod
        body = mod.resources.get(("data.aws_iam_policy_document", ref.name))
        if body is None:
            raise HclError(f"{mod.rel}: no data.aws_iam_policy_document.{ref.name}")
        self._docs[cache_key] = []  # a document that includes itself adds nothing more
        scopes = [s for k, s in mod.instances(body) if ref.key is None or k == ref.key or k is UNKNOWN]
        scope = scopes[0] if scopes else Scope()
        where = f"{mod.where[('data.aws_iam_policy_document', ref.name)]} data.aws_iam_policy_document.{ref.name}"
        out: list[Grant] = []
        for statement in mod.blocks(body, "statement") + mod.dynamic_blocks(body, "statement"):
            at = where + "".join(f" {sid}" for sid in mod.attr(statement, "sid", scope, default="") if sid)
            effects = {e for e in mod.attr(statement, "effect", scope, default="Allow")}
            for effect in effects:
                if effect not in ("Allow", "Deny"):
                    raise HclError(f"{at}: effect {effect!r}")
                for attr, negated in (("actions", False), ("not_actions", True)):
                    for actions in mod.attr(statement, attr, scope, default=[]):
                        for a in _as_list(actions):
                            if not isinstance(a, str):
                                raise HclError(f"{at}: an action spelled {a!r} (use literal lists or locals)")
                            out.append(Grant(a, effect, at, not_action=negated))
        for attr in ("source_policy_documents", "override_policy_documents"):
            for docs in mod.attr(body, attr, scope, default=[]):
                for d in _as_list(docs):
                    out += self.policy(d, f"{where} {attr}")
        self._docs[cache_key] = _dedupe(out)
        return self._docs[cache_key]


# ---- what the Lambda service does for a function ------------------------------------------------------------------
@dataclass(frozen=True)
class Runtime:
    """What a function's configuration makes Lambda itself do with the function's role."""

    tracing: bool
    in_vpc: bool  # in some configuration
    dead_letter: frozenset[str]  # resource types of its dead-letter target (unknown: "?")
    event_sources: frozenset[str]  # resource types of the event source mappings that invoke it
    destinations: frozenset[str]  # resource types of its asynchronous invocation destinations


def _target_types(values: list[Any]) -> set[str]:
    return {v.type if isinstance(v, Ref) else "?" for v in values if v is not None}


def runtime(mod: Module, fn: Function) -> Runtime:
    body = mod.resources[("aws_lambda_function", fn.resource)]
    scopes = [s for k, s in mod.instances(body) if k == fn.key]
    modes = {m for s in scopes for t in mod.blocks(body, "tracing_config") for m in mod.attr(t, "mode", s)}
    in_vpc = bool(mod.blocks(body, "vpc_config") or mod.dynamic_blocks(body, "vpc_config"))
    dead_letter = {
        t
        for s in scopes
        for d in mod.blocks(body, "dead_letter_config")
        for t in _target_types(mod.attr(d, "target_arn", s))
    }
    sources, destinations = set(), set()
    for mapping in mod.of_type("aws_lambda_event_source_mapping").values():
        for _, s in mod.instances(mapping):
            if any(_same_resource(r, fn.ref) for r in mod.attr(mapping, "function_name", s)):
                sources |= _target_types(mod.attr(mapping, "event_source_arn", s))
    for config in mod.of_type("aws_lambda_function_event_invoke_config").values():
        for _, s in mod.instances(config):
            if any(_same_resource(r, fn.ref) for r in mod.attr(config, "function_name", s)):
                for dest in mod.blocks(config, "destination_config"):
                    for outcome in ("on_failure", "on_success"):
                        for d in mod.blocks(dest, outcome):
                            destinations |= _target_types(mod.attr(d, "destination", s))
    return Runtime("Active" in modes, in_vpc, frozenset(dead_letter), frozenset(sources), frozenset(destinations))
