"""Identifiers and names in NGSI-LD payloads: entity ids, datasetIds, Relationship objects (URIs),
entity type and attribute names (terms or IRIs), and scopes.

URIs (ETSI GS CIM 009 annex A, clause 5.2.1): entity ids and the like must be URIs (RFC 3986); the spec
extends this to IRIs (RFC 3987), so non-ASCII letters are allowed. `is_uri` checks the RFC 3986 syntax
without a general regular expression: a scheme (`ALPHA *(ALPHA / DIGIT / "+" / "-" / ".")`) and ":",
something after it, only characters a URI or IRI may contain (no whitespace, controls, `"<>\\^``{|}`),
well-formed percent-escapes, at most one "#", "[" "]" only around an IP-literal host, a numeric port.
The scheme alone ("urn:") is rejected although RFC 3986 allows an empty path: it identifies nothing.

Names (clause 4.6.2): a name is either a full or compact IRI (it contains ":"; checked as a URI) or a
short term made of Unicode letters (with their combining marks, so every script works), decimal digits
and "_". That excludes, among others, the characters Orion-LD rejects in NGSI-LD names (`= [ ] & ? " '`
and whitespace), the NGSI-v2 forbidden set (`< > " ' = ; ( )`) and everything with a meaning in the
query language, the `attrs` parameter or a URL path (`. , ; | ! ( ) [ ] / # %`). Names starting with
"@" are JSON-LD keywords.

Scopes (clause 4.18): "/" followed by one or more levels separated by "/", each level made of the same
characters as a short term, e.g. "/Kaiserslautern/Lauter". "#" and "+" are wildcards in scope queries
(clause 4.19), so they cannot appear in a scope.

All checks are linear in the input length and bounded by the MAX_* constants.
"""

from __future__ import annotations

import re
import unicodedata

from broker_adapter.ngsild.errors import BadRequestData

MAX_URI_LENGTH = 2048
MAX_TERM_LENGTH = 256
MAX_SCOPE_LENGTH = 256
MAX_SCOPES = 100

NGSI_LD_CORE_NS = "https://uri.etsi.org/ngsi-ld/"

# Members of an Entity or of an attribute instance that the core @context defines (clauses 5.2.2-5.2.7).
# A user attribute of one of these names would collide with the member after expansion. "location",
# "observationSpace" and "operationSpace" are NOT here: they are ordinary GeoProperty attributes.
_CORE_MEMBER_TERMS = frozenset(
    {
        "scope",
        "createdAt",
        "modifiedAt",
        "deletedAt",
        "observedAt",
        "value",
        "object",
        "languageMap",
        "vocab",
        "json",
        "valueList",
        "objectList",
        "objectType",
        "datasetId",
        "instanceId",
        "unitCode",
        "previousValue",
        "previousObject",
        "previousLanguageMap",
        "previousVocab",
        "previousJson",
        "previousValueList",
        "previousObjectList",
    }
)
RESERVED_ATTRIBUTE_NAMES: frozenset[str] = frozenset(
    {"id", "type", "@id", "@type", "@context"}
    | _CORE_MEMBER_TERMS
    | {NGSI_LD_CORE_NS + t for t in _CORE_MEMBER_TERMS}
)

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*", re.ASCII)
# ASCII characters that can never appear in a URI (RFC 3986 section 2; RFC 3987 adds only non-ASCII).
_BAD_URI_ASCII = re.compile(r'[\x00-\x20\x7f"<>\\^`{|}]')
_HEX = frozenset("0123456789abcdefABCDEF")
# "-" is allowed: real vocabularies use it (e.g. "air-quality"); q paths never split on it.
_TERM_ASCII = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_\-]*", re.ASCII)
# Unicode categories never allowed in an IRI: controls, format (bidi) characters, surrogates,
# private use, unassigned/noncharacters, and all separators (whitespace).
_BAD_IRI_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"})


def _show(s: str, limit: int = 60) -> str:
    """The offending input, quoted (control characters escaped) and cut short."""
    return repr(s) if len(s) <= limit else repr(s[:limit]) + "..."


def _char_problem(s: str, i: int, allowed: str) -> str:
    c = s[i]
    what = "whitespace" if c.isspace() else "control character" if not c.isprintable() else "character"
    return f"{what} {c!r} at position {i} is not allowed in {allowed}"


def _uri_problem(s: str) -> str | None:
    """Why `s` is not an absolute URI/IRI, or None."""
    if not s:
        return "it is empty"
    if len(s) > MAX_URI_LENGTH:
        return f"it is longer than {MAX_URI_LENGTH} characters"
    colon = s.find(":")
    if colon <= 0 or _SCHEME.fullmatch(s, 0, colon) is None:
        return "it has no scheme (a URI starts with a scheme and ':', e.g. 'urn:ngsi-ld:Type:id')"
    if colon == len(s) - 1:
        return "nothing follows the scheme"
    bad = _BAD_URI_ASCII.search(s)
    if bad is not None:
        return _char_problem(s, bad.start(), "a URI")
    if not s.isascii():
        for i, c in enumerate(s):
            if ord(c) > 127 and unicodedata.category(c) in _BAD_IRI_CATEGORIES:
                return f"character {c!r} (U+{ord(c):04X}) at position {i} is not allowed in a URI"
    pct = s.find("%")
    while pct != -1:
        if pct + 2 >= len(s) or s[pct + 1] not in _HEX or s[pct + 2] not in _HEX:
            return f"'%' at position {pct} is not followed by two hexadecimal digits"
        pct = s.find("%", pct + 3)
    if s.count("#") > 1:
        return "it contains more than one '#'"
    rest = s[colon + 1 :]
    if rest.startswith("//"):
        return _authority_problem(rest, colon + 1)
    if "[" in s or "]" in s:
        return "'[' and ']' are only allowed around an IP address in the host"
    return None


def _authority_problem(rest: str, offset: int) -> str | None:
    end = len(rest)
    for delim in "/?#":
        k = rest.find(delim, 2)
        if k != -1 and k < end:
            end = k
    authority = rest[2:end]
    if "[" in rest[end:] or "]" in rest[end:]:
        return "'[' and ']' are only allowed around an IP address in the host"
    hostport = authority[authority.rfind("@") + 1 :]
    if hostport.startswith("["):
        close = hostport.find("]")
        if close == -1:
            return "IP-literal host has no closing ']'"
        port_part = hostport[close + 1 :]
        if port_part and not port_part.startswith(":"):
            return "unexpected characters after the IP-literal host"
        port = port_part[1:]
    else:
        if "[" in hostport or "]" in hostport:
            return "'[' and ']' are only allowed around an IP address in the host"
        port = hostport[hostport.find(":") + 1 :] if ":" in hostport else ""
    if port and not (port.isascii() and port.isdigit()):
        return f"port {port!r} is not a number"
    return None


# The shape of nearly every entity id ("urn:ngsi-ld:Type:local-id"): accepted without the full check.
_SIMPLE_URN = re.compile(r"urn:[A-Za-z0-9][A-Za-z0-9\-]{0,31}:[A-Za-z0-9\-._~:@!$&'()*+,;=/]+", re.ASCII)


def is_uri(s: object) -> bool:
    """True if `s` is an absolute URI (RFC 3986) or IRI (RFC 3987) that NGSI-LD accepts as an id."""
    if type(s) is str and len(s) <= MAX_URI_LENGTH and _SIMPLE_URN.fullmatch(s):
        return True
    return isinstance(s, str) and _uri_problem(s) is None


def check_uri(s: object, path: str, what: str = "value") -> str:
    """Raise BadRequestData unless `s` is a URI; used for datasetId, Relationship objects and the like."""
    if type(s) is str and len(s) <= MAX_URI_LENGTH and _SIMPLE_URN.fullmatch(s):
        return s
    if not isinstance(s, str):
        raise BadRequestData(f"{path}: {what} must be a URI string, got {type(s).__name__}")
    problem = _uri_problem(s)
    if problem is not None:
        raise BadRequestData(f"{path}: {what} {_show(s)} is not a valid URI: {problem}")
    return s


def check_entity_id(s: object, path: str) -> str:
    """Raise BadRequestData unless `s` can be an entity id (a URI, e.g. "urn:ngsi-ld:Vehicle:A4567")."""
    return check_uri(s, path, "entity id")


def _term_problem(s: str, allowed: str) -> str | None:
    """Why `s` is not a run of letters (and marks), decimal digits and '_', or None."""
    if not s:
        return "it is empty"
    if s.isascii():
        if _TERM_ASCII.fullmatch(s) is not None:
            return None
        for i, c in enumerate(s):
            if not (c.isalnum() or c == "_" or (c == "-" and i > 0)):
                return _char_problem(s, i, allowed)
        return None  # pragma: no cover - the regex and the loop agree on ASCII
    for i, c in enumerate(s):
        if c == "_" or (c == "-" and i > 0):
            continue
        cat = unicodedata.category(c)
        if cat[0] != "L" and cat[0] != "M" and cat != "Nd":
            return _char_problem(s, i, allowed)
    if unicodedata.category(s[0])[0] == "M":
        return "a name cannot start with a combining mark"
    return None


_VALID_NAMES: set[str] = set()  # names already accepted: the same few recur in every entity
_VALID_NAMES_LIMIT = 8192


def check_name(s: object, path: str, what: str = "name") -> str:
    """Raise BadRequestData unless `s` is a valid entity type or attribute name (term or IRI)."""
    if type(s) is str and s in _VALID_NAMES:
        return s  # type: ignore[return-value]  # only str are ever added
    _check_name(s, path, what)
    if len(_VALID_NAMES) >= _VALID_NAMES_LIMIT:
        _VALID_NAMES.clear()
    _VALID_NAMES.add(s)  # type: ignore[arg-type]
    return s  # type: ignore[return-value]


def _check_name(s: object, path: str, what: str) -> None:
    if not isinstance(s, str):
        raise BadRequestData(f"{path}: {what} must be a string, got {type(s).__name__}")
    if not s:
        raise BadRequestData(f"{path}: {what} must not be empty")
    if s[0] == "@":
        raise BadRequestData(
            f"{path}: {what} {_show(s)} is reserved: names starting with '@' are JSON-LD keywords"
        )
    if ":" in s:
        problem = _uri_problem(s)
        if problem is not None:
            raise BadRequestData(f"{path}: {what} {_show(s)} contains ':' but is not a valid IRI: {problem}")
        return
    if len(s) > MAX_TERM_LENGTH:
        raise BadRequestData(f"{path}: {what} is longer than {MAX_TERM_LENGTH} characters")
    problem = _term_problem(s, "a name (use letters, digits, '_' and '-', or a full IRI)")
    if problem is not None:
        raise BadRequestData(f"{path}: {what} {_show(s)}: {problem}")


def check_attribute_name(s: object, path: str) -> str:
    """check_name, and also reject core member names an attribute cannot take (RESERVED_ATTRIBUTE_NAMES)."""
    if isinstance(s, str) and s in RESERVED_ATTRIBUTE_NAMES:
        raise BadRequestData(
            f"{path}: {s!r} is an NGSI-LD core member and cannot be used as an attribute name"
        )
    return check_name(s, path, "attribute name")


def _scope_problem(s: str) -> str | None:
    if not s:
        return "it is empty"
    if len(s) > MAX_SCOPE_LENGTH:
        return f"it is longer than {MAX_SCOPE_LENGTH} characters"
    if s[0] != "/":
        return "a scope starts with '/', e.g. '/Kaiserslautern/Lauter'"
    if s == "/":
        return "it has no level after '/'"
    for level in s[1:].split("/"):
        if not level:
            return "it has an empty level ('//' or a trailing '/')"
        problem = _term_problem(level, "a scope level (use letters, digits and '_')")
        if problem is not None:
            return f"level {level!r}: {problem}"
    return None


def check_scope(value: object, path: str) -> list[str]:
    """Validate the `scope` member (a string or an array of strings) and return it as a list.

    Duplicates are dropped (order kept), since a scope either applies to an entity or it does not.
    """
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        raise BadRequestData(
            f"{path}: scope must be a string or an array of strings, got {type(value).__name__}"
        )
    if not items:
        raise BadRequestData(f"{path}: scope must not be an empty array")
    if len(items) > MAX_SCOPES:
        raise BadRequestData(f"{path}: more than {MAX_SCOPES} scopes")
    seen: dict[str, None] = {}
    for i, item in enumerate(items):
        where = path if isinstance(value, str) else f"{path}[{i}]"
        if not isinstance(item, str):
            raise BadRequestData(f"{where}: a scope must be a string, got {type(item).__name__}")
        problem = _scope_problem(item)
        if problem is not None:
            raise BadRequestData(f"{where}: scope {_show(item)} is not valid: {problem}")
        seen[item] = None
    return list(seen)
