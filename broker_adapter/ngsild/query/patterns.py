"""Regular expressions for q's ~= and !~= (clause 4.9: "RegExp shall be a regular expression as mandated
by IEEE 1003.2"), checked before they ever run.

Python's `re` backtracks and has no timeout, and a pattern comes from an anonymous query string and may
also live on in a subscription. So patterns are restricted to what cannot run away exponentially:

- at most MAX_PATTERN_LENGTH characters and MAX_UNBOUNDED unbounded quantifiers (* + {n,});
- no quantified group that itself contains a quantifier or an alternation ((a+)+, (a|aa)*), the
  classic catastrophic-backtracking shapes; a character class ([ab]+) says the same thing safely;
- no backreferences, lookarounds or conditionals: they are not POSIX ERE and not regular;
- repetition counts {n,m} at most MAX_REPEAT.

What remains can still be polynomial on long strings (`.*a.*b.*c`), which the small quantifier budget
keeps bounded. Matching is a search anywhere in the string, as POSIX regexec and MongoDB $regex do;
anchor with ^ and $ for a whole-string match. Inline flags such as (?i) are accepted.
"""

from __future__ import annotations

import re
import warnings
from functools import lru_cache

MAX_PATTERN_LENGTH = 256
MAX_UNBOUNDED = 3
MAX_REPEAT = 100

_COUNTED = re.compile(r"\{([0-9]+)(,([0-9]*))?\}")
_INLINE_FLAGS = re.compile(r"\(\?[aiLmsux]+(-[imsx]+)?[:)]|\(\?-[imsx]+:")


class PatternError(ValueError):
    """Why a pattern is refused, and the index in the pattern where the problem is."""

    def __init__(self, message: str, index: int) -> None:
        super().__init__(message)
        self.message = message
        self.index = index


class _Group:
    __slots__ = ("has_alt", "has_quant", "start")

    def __init__(self, start: int) -> None:
        self.start = start
        self.has_quant = False
        self.has_alt = False


def check_pattern(pattern: str) -> str:
    """Return the pattern if it is accepted, else raise PatternError."""
    if not pattern:
        raise PatternError("empty regular expression", 0)
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise PatternError(f"regular expression longer than {MAX_PATTERN_LENGTH} characters", 0)
    _scan(pattern)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # "possible nested set" for POSIX [[:alpha:]] and the like
            re.compile(pattern)
    except re.error as exc:
        raise PatternError(f"invalid regular expression: {exc.msg}", exc.pos or 0) from exc
    except (FutureWarning, DeprecationWarning) as exc:
        raise PatternError(f"unsupported regular expression: {exc}", 0) from exc
    return pattern


@lru_cache(maxsize=512)
def compiled(pattern: str) -> re.Pattern[str]:
    """The compiled form of an accepted pattern, cached for repeated evaluation."""
    return re.compile(pattern)


def _scan(p: str) -> None:
    stack = [_Group(0)]
    unbounded = 0
    last_atom: _Group | bool | None = None  # _Group for ")" atoms, True for other atoms, None: nothing
    i = 0
    while i < len(p):
        c = p[i]
        if c == "\\":
            if i + 1 < len(p) and p[i + 1] in "123456789":
                raise PatternError("backreferences are not supported", i)
            i += 2
            last_atom = True
            continue
        if c == "[":
            i = _skip_class(p, i)
            last_atom = True
            continue
        if c == "(":
            last_atom = None
            if not p.startswith("(?", i):
                stack.append(_Group(i))
                i += 1
                continue
            flags = _INLINE_FLAGS.match(p, i)
            if flags is not None:
                if not flags.group().endswith(")"):
                    stack.append(_Group(i))  # (?i:...) is a group; (?i) alone is a global flag
                i = flags.end()
            elif p.startswith("(?:", i):
                stack.append(_Group(i))
                i += 3
            elif p.startswith("(?P<", i) and p.find(">", i) != -1:
                stack.append(_Group(i))
                i = p.find(">", i) + 1
            else:
                raise PatternError("lookarounds, backreferences and conditionals are not supported", i)
            continue
        if c == ")":
            if len(stack) == 1:
                raise PatternError("unbalanced parenthesis", i)
            group = stack.pop()
            stack[-1].has_quant |= group.has_quant
            stack[-1].has_alt |= group.has_alt
            last_atom = group
            i += 1
            continue
        if c == "|":
            stack[-1].has_alt = True
            last_atom = None
            i += 1
            continue
        counted = _COUNTED.match(p, i) if c == "{" else None
        if c in "*+?" or counted is not None:
            if isinstance(last_atom, _Group) and (last_atom.has_quant or last_atom.has_alt):
                raise PatternError(
                    "a repeated group must not contain a quantifier or '|' (catastrophic backtracking); "
                    "use a character class such as [ab]+",
                    i,
                )
            if counted is not None:
                low, has_comma, high = counted.group(1), counted.group(2), counted.group(3)
                if int(low) > MAX_REPEAT or (high and int(high) > MAX_REPEAT):
                    raise PatternError(f"repetition counts above {MAX_REPEAT} are not supported", i)
                unbounded += 1 if has_comma and not high else 0
                i = counted.end()
            else:
                unbounded += 1 if c in "*+" else 0
                i += 1
            if unbounded > MAX_UNBOUNDED:
                raise PatternError(f"more than {MAX_UNBOUNDED} unbounded quantifiers (*, +, {{n,}})", i - 1)
            if i < len(p) and p[i] in "?+":  # lazy or possessive form of the same quantifier
                i += 1
            stack[-1].has_quant = True
            last_atom = None
            continue
        last_atom = True
        i += 1
    if len(stack) > 1:
        raise PatternError("unbalanced parenthesis", stack[-1].start)


def _skip_class(p: str, i: int) -> int:
    """Index just after the character class starting at p[i] == '['."""
    j = i + 1
    if j < len(p) and p[j] == "^":
        j += 1
    if j < len(p) and p[j] == "]":
        j += 1
    while j < len(p) and p[j] != "]":
        j += 2 if p[j] == "\\" else 1
    if j >= len(p):
        raise PatternError("unterminated character class", i)
    return j + 1
