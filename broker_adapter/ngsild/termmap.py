"""Turn resolved @context objects into a TermMap: name expansion and compaction as dictionary look-ups.

ARCHITECTURE decision 1: a request's @context is processed once (JSON-LD 1.1 context processing, restricted
to what NGSI-LD names need) and the result is cached; per entity, expanding or compacting a name is a dict
look-up, memoised per TermMap.

Core precedence (ETSI GS CIM 009 clause 4.4, and clause 5.5.7 "Term to URI expansion or compaction"): the
core @context is protected and "shall be considered as if it were in the last position of the @context
array", with "absolute precedence, regardless of the position". So contexts are processed as
[core, user..., core]: the leading core lets user terms use core prefixes and terms ("ngsi-ld:x",
"@type": "DateTime"); the trailing core silently overrides any user redefinition of a core term. The core
@vocab is, per clause 4.4, a *fallback*: it applies only when the user contexts leave no @vocab of their own.

Decisions on JSON-LD features (user contexts):
- term definitions: string or map with @id, @type, @container, @prefix, @protected; null unmaps a term,
  and expanding an unmapped term is BadRequestData (JSON-LD would silently drop the attribute).
- scoped contexts (@context inside a term definition) are BadRequestData, as clause 5.5.7 requires; in the
  core context they are ignored (only "ngsildproof" has one, and it never affects names).
- @base, @language, @direction, @propagate, @nest, @index: ignored, they do not change how names expand.
  @reverse is BadRequestData (a reverse property is not an NGSI-LD attribute).
- @import must be spliced in by the resolver (it needs I/O); seeing it here is BadRequestData.
- compact IRIs use a term as prefix only when its prefix flag is set (JSON-LD 1.1: a simple string term
  whose IRI ends in a gen-delim, or "@prefix": true).
- cycles between term definitions are BadRequestData.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any, Generic, TypeVar

import orjson

from broker_adapter.ngsild.core_context import CORE_CONTEXT
from broker_adapter.ngsild.errors import BadRequestData
from broker_adapter.ngsild.types import Iri, Term

KEYWORDS = frozenset(
    "@base @container @context @direction @graph @id @import @included @index @json @language @list @nest "  # noqa: SIM905
    "@none @prefix @propagate @protected @reverse @set @type @value @version @vocab".split()
)
_CONTAINERS = frozenset({"@list", "@set", "@index", "@language", "@id", "@type", "@graph"})
# Keywords allowed as keys of a context object; only @version, @vocab and @import change anything here.
_CONTEXT_KEYWORDS = frozenset(
    {"@base", "@direction", "@import", "@language", "@propagate", "@protected", "@type", "@version", "@vocab"}
)
_IGNORED_DEF_KEYS = frozenset({"@language", "@direction", "@nest", "@index", "@protected"})
_GEN_DELIMS = tuple(":/?#[]@")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_KEYWORD_LIKE = re.compile(r"@[A-Za-z]+")
_MEMO_LIMIT = 20_000  # distinct names remembered per TermMap; clearing bounds memory against odd clients


@dataclass(frozen=True, slots=True)
class TermDefinition:
    iri: Iri | None  # None: the term is explicitly unmapped
    type: str | None = None  # expanded @type: "@id", "@vocab", "@json" or a datatype IRI
    container: tuple[str, ...] = ()
    prefix: bool = False  # usable as the prefix of a compact IRI
    protected: bool = False


class TermMap:
    """An immutable, processed @context. Equal (and hashing equal) when built from the same contexts."""

    __slots__ = ("_compact", "_defs", "_expand", "_prefixes", "_reverse", "_state", "_vocab", "key")

    def __init__(self, definitions: Mapping[Term, TermDefinition], vocab: Iri | None, key: str) -> None:
        self._state = _State(dict(definitions), vocab)  # never changed after this point
        self._defs = self._state.terms
        self._vocab = vocab
        self.key = key
        reverse: dict[Iri, Term] = {}
        for term, d in self._defs.items():
            if d.iri is None or d.iri in KEYWORDS:
                continue
            best = reverse.get(d.iri)
            if best is None or (len(term), term) < (len(best), best):
                reverse[d.iri] = term
        self._reverse = reverse
        self._prefixes = tuple(
            sorted((d.iri, t) for t, d in self._defs.items() if d.prefix and d.iri and d.iri not in KEYWORDS)
        )
        self._expand: dict[str, Iri] = {}
        self._compact: dict[Iri, str] = {}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TermMap) and other.key == self.key

    def __hash__(self) -> int:
        return hash(self.key)

    def __repr__(self) -> str:
        return f"TermMap(key={self.key[:12]}…, terms={len(self._defs)}, vocab={self._vocab!r})"

    @property
    def vocab(self) -> Iri | None:
        return self._vocab

    def definition(self, term: Term) -> TermDefinition | None:
        return self._defs.get(term)

    def term_type(self, term: Term) -> str | None:
        """The expanded @type of a defined term ("@id", "@vocab", "@json", a datatype IRI) or None."""
        d = self._defs.get(term)
        return d.type if d is not None else None

    def expand_name(self, term: Term) -> Iri:
        """Expand an entity type, attribute or sub-attribute name (keyword aliases give the keyword)."""
        iri = self._expand.get(term)
        if iri is None:
            iri = self._expand_uncached(term)
            if len(self._expand) >= _MEMO_LIMIT:
                self._expand.clear()
            self._expand[term] = iri
        return iri

    def compact_name(self, iri: Iri) -> Term:
        """A name that expands back to iri: the (shortest) term, else the @vocab suffix, else the shortest
        compact IRI, else iri itself (JSON-LD IRI compaction, vocab=true)."""
        term = self._compact.get(iri)
        if term is None:
            term = self._compact_uncached(iri)
            if len(self._compact) >= _MEMO_LIMIT:
                self._compact.clear()
            self._compact[iri] = term
        return term

    def expand_vocab(self, value: str) -> Iri:
        """Expand a VocabProperty value ("@type": "@vocab" value expansion); keywords are not values."""
        iri = self.expand_name(value)
        if iri in KEYWORDS and self._vocab is not None:
            return self._vocab + value
        return iri

    def compact_vocab(self, iri: Iri) -> str:
        return self.compact_name(iri)

    def _expand_uncached(self, term: str) -> Iri:
        iri = _expand_iri(term, None, self._state)
        if iri is None:
            raise BadRequestData(f"'{term}' is explicitly unmapped (null) in the @context and cannot be used")
        return iri

    def _round_trips(self, candidate: str, iri: Iri) -> bool:
        try:
            return self.expand_name(candidate) == iri
        except BadRequestData:
            return False

    def _compact_uncached(self, iri: Iri) -> str:
        term = self._reverse.get(iri)
        if term is not None:
            return term
        vocab = self._vocab
        if vocab and len(iri) > len(vocab) and iri.startswith(vocab):
            suffix = iri[len(vocab) :]
            if self._round_trips(suffix, iri):
                return suffix
        best: str | None = None
        for prefix_iri, prefix_term in self._prefixes:
            if len(iri) > len(prefix_iri) and iri.startswith(prefix_iri):
                candidate = f"{prefix_term}:{iri[len(prefix_iri) :]}"
                if (best is None or (len(candidate), candidate) < (len(best), best)) and self._round_trips(
                    candidate, iri
                ):
                    best = candidate
        return best if best is not None else iri


# -- context processing -------------------------------------------------------------------------------


@dataclass(slots=True)
class _State:
    terms: dict[Term, TermDefinition] = field(default_factory=dict)
    vocab: Iri | None = None
    user_vocab: bool = False  # whether @vocab was last set by a user context


@dataclass(slots=True)
class _Local:
    """One context object being processed: its entries and which terms are done (True) or in progress."""

    entries: Mapping[str, Any]
    core: bool
    defined: dict[str, bool] = field(default_factory=dict)


def _iter_contexts(contexts: Iterable[Any]) -> Iterable[Mapping[str, Any] | None]:
    for item in contexts:
        if isinstance(item, list):
            yield from _iter_contexts(item)
        elif item is None or isinstance(item, Mapping):
            yield item
        else:
            raise BadRequestData(f"a resolved @context must be an object, null or an array, not {item!r}")


def _expand_iri(value: str, local: _Local | None, state: _State) -> Iri | None:
    """JSON-LD IRI expansion with vocab=true, defining terms of the local context on demand."""
    if value in KEYWORDS:
        return value
    if _KEYWORD_LIKE.fullmatch(value):
        return None
    if local is not None and value in local.entries and local.defined.get(value) is not True:
        _define(value, local, state)
    d = state.terms.get(value)
    if d is not None:
        return d.iri
    prefix, colon, suffix = value.partition(":")
    if colon:
        if prefix == "_" or suffix.startswith("//"):
            return value
        if local is not None and prefix in local.entries and local.defined.get(prefix) is not True:
            _define(prefix, local, state)
        p = state.terms.get(prefix)
        if p is not None and p.prefix and p.iri is not None:
            return p.iri + suffix
        if _SCHEME.match(value):
            return value
    if state.vocab is None:
        raise BadRequestData(f"'{value}' cannot be expanded: it is not a term and there is no @vocab")
    return state.vocab + value


def _term_as_iri(term: str, local: _Local, state: _State) -> Iri:
    """IRI of a term defined without @id (or with @id equal to itself), JSON-LD 1.1 create term definition.

    A compact IRI uses its prefix term (defined later in the same object is fine); an IRI stays itself;
    anything else is relative to @vocab. Unlike IRI expansion, no prefix flag is needed here.
    """
    prefix, colon, suffix = term.partition(":")
    if colon and prefix:
        if prefix == "_" or suffix.startswith("//"):
            return term
        if prefix in local.entries:
            _define(prefix, local, state)
        p = state.terms.get(prefix)
        if p is not None and p.iri is not None:
            return p.iri + suffix
        if _SCHEME.match(term):
            return term
    if state.vocab is None:
        raise BadRequestData(f"term '{term}' has no IRI: it has no @id and there is no @vocab")
    return state.vocab + term


def _define(term: str, local: _Local, state: _State) -> None:
    """JSON-LD 1.1 "create term definition", reduced to what names and vocab values need."""
    done = local.defined.get(term)
    if done:
        return
    if done is False:
        raise BadRequestData(f"cyclic term definition involving '{term}' in the @context")
    if term == "" or term in KEYWORDS:
        raise BadRequestData(f"'{term}' cannot be defined as a term in an @context (keyword redefinition)")
    local.defined[term] = False
    value = local.entries[term]
    simple = isinstance(value, str)
    if value is None:
        value = {"@id": None}
    elif simple:
        value = {"@id": value}
    elif not isinstance(value, Mapping):
        raise BadRequestData(f"the definition of term '{term}' must be a string, object or null")
    if "@reverse" in value:
        raise BadRequestData(f"term '{term}': @reverse is not supported for NGSI-LD names")
    if "@context" in value and not local.core:
        raise BadRequestData(
            f"term '{term}' has a scoped @context, which a user @context must not contain (NGSI-LD 5.5.7)"
        )
    for key in value:
        if key not in _IGNORED_DEF_KEYS and key not in {"@id", "@type", "@container", "@prefix", "@context"}:
            raise BadRequestData(f"term '{term}': unsupported member '{key}' in its definition")

    iri: Iri | None
    if "@id" in value and value["@id"] != term:
        raw_id = value["@id"]
        if raw_id is None:
            iri = None
        elif not isinstance(raw_id, str):
            raise BadRequestData(f"term '{term}': @id must be a string or null")
        else:
            iri = _expand_iri(raw_id, local, state)
            if iri is None:  # "@foo"-like values are ignored by JSON-LD; so is the term
                local.defined[term] = True
                return
    else:
        iri = _term_as_iri(term, local, state)
    if iri is not None and iri.startswith("@") and iri not in ("@id", "@type"):
        raise BadRequestData(f"term '{term}' cannot alias the keyword {iri}")

    type_: str | None = None
    if "@type" in value:
        raw_type = value["@type"]
        if not isinstance(raw_type, str):
            raise BadRequestData(f"term '{term}': @type must be a string")
        type_ = (
            raw_type
            if raw_type in {"@id", "@vocab", "@json", "@none"}
            else _expand_iri(raw_type, local, state)
        )

    container = value.get("@container", ())
    container = (container,) if isinstance(container, str) else tuple(container or ())
    if not set(container) <= _CONTAINERS:
        raise BadRequestData(f"term '{term}': invalid @container {value['@container']!r}")

    prefix_flag = bool(
        simple and iri is not None and ":" not in term and "/" not in term and iri.endswith(_GEN_DELIMS)
    )
    if "@prefix" in value:
        if not isinstance(value["@prefix"], bool):
            raise BadRequestData(f"term '{term}': @prefix must be true or false")
        prefix_flag = value["@prefix"]

    protected = bool(value.get("@protected", local.entries.get("@protected", False)))
    new = TermDefinition(iri, type_, container, prefix_flag, protected)
    old = state.terms.get(term)
    redefined = old is not None and old.protected and replace(new, protected=True) != old
    if redefined and not local.core and term not in _core_terms():
        raise BadRequestData(f"term '{term}' is protected and cannot be redefined")
    state.terms[term] = new
    local.defined[term] = True


def _apply(ctx: Mapping[str, Any], state: _State, *, core: bool) -> None:
    if "@import" in ctx:
        raise BadRequestData("@import must be resolved before processing (it needs the context resolver)")
    version = ctx.get("@version")
    if version is not None and version != 1.1:
        raise BadRequestData(f"@version must be 1.1, not {version!r}")
    if "@vocab" in ctx:
        vocab = ctx["@vocab"]
        if vocab is None:
            state.vocab, state.user_vocab = None, not core
        elif isinstance(vocab, str) and vocab:
            expanded = _expand_iri(vocab, None, state)  # a term, compact IRI, IRI, or relative to @vocab
            if expanded is None or not _SCHEME.match(expanded):
                raise BadRequestData(f"@vocab {vocab!r} does not expand to an absolute IRI")
            state.vocab, state.user_vocab = expanded, not core
        else:
            raise BadRequestData("@vocab must be a non-empty IRI string or null (@base is not supported)")
    local = _Local(ctx, core)
    for term in ctx:
        if term in _CONTEXT_KEYWORDS or (term not in KEYWORDS and _KEYWORD_LIKE.fullmatch(term)):
            continue  # context-level keywords are handled above or ignored; "@foo"-like keys are ignored
        _define(term, local, state)


@cache
def _core_state() -> _State:
    state = _State()
    _apply(CORE_CONTEXT, state, core=True)
    return state


@cache
def _core_terms() -> frozenset[Term]:
    return frozenset(_core_state().terms)


def _fresh_state() -> _State:
    core = _core_state()
    return _State(dict(core.terms), core.vocab, False)


def canonical_hash(value: Any) -> str:
    """A stable key for JSON content: sha256 of its canonical (key-sorted) JSON serialisation."""
    return hashlib.sha256(orjson.dumps(value, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _process(contexts: Sequence[Any], key: str) -> TermMap:
    state = _fresh_state()
    for ctx in _iter_contexts(contexts):
        if ctx is None:  # JSON-LD null resets; the core stays, it is always implicitly present
            if any(d.protected for t, d in state.terms.items() if t not in _core_terms()):
                raise BadRequestData("a null @context cannot reset protected terms")
            state = _fresh_state()
        else:
            _apply(ctx, state, core=False)
    core = _core_state()
    state.terms.update(core.terms)
    vocab = state.vocab if state.user_vocab and state.vocab is not None else core.vocab
    return TermMap(state.terms, vocab, key)


_K = TypeVar("_K", bound=Hashable)
_V = TypeVar("_V")


class LruCache(Generic[_K, _V]):
    """A small thread-safe LRU map, for processed contexts and fetched documents."""

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self._maxsize = maxsize
        self._data: OrderedDict[_K, _V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: _K) -> _V | None:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: _K, value: _V) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self._maxsize:
                self._data.popitem(last=False)

    def pop(self, key: _K) -> None:
        with self._lock:
            self._data.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


_TERM_MAPS: LruCache[str, TermMap] = LruCache(256)


def build_term_map(contexts: Sequence[Any], *, key: str | None = None) -> TermMap:
    """Process resolved context objects (dicts, nulls, nested arrays; no URLs) into a cached TermMap.

    key defaults to the canonical hash of the contexts; a caller may pass its own key to skip hashing,
    provided the key identifies the content (it names the cache entry and TermMap equality).
    """
    if key is None:
        key = canonical_hash(list(contexts))
    term_map = _TERM_MAPS.get(key)
    if term_map is None:
        term_map = _process(contexts, key)
        _TERM_MAPS.put(key, term_map)
    return term_map


def core_term_map() -> TermMap:
    """The TermMap of a request without a user @context."""
    return build_term_map([], key="core")
