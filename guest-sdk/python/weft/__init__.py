"""weft's SDK for rules written in Python: one decorated function, a typed event in, records out.

    import weft

    @weft.rule
    def handle(event: weft.Event):
        if event.kind is None:
            return weft.drop("not a conversation detail event")
        body = event.body()
        return weft.Record(event.partition_key, {"_id": event.id, "mediaType": body.get("mediaType")})

The function returns a `Record`, a list of them (an empty list counts as a drop), or `drop(reason)`; it raises
`RuleError(code, message)` for a failure it knows about. Any other exception becomes a dead letter too (code
`exception`, the exception's type and message), for its event only: the rule never traps on it.

The module runs in weft's sandbox with no WASI: no files, network, environment or clock. `time.time()` and its
kin raise `RuleError("no-clock", ...)` (order by `eventBody.eventTime`); `datetime.now()` cannot be intercepted
and traps. `print()` goes to weft's log, at `info`. Modules are kept in the component when the build imports them:
import what the rule uses at the top of rule.py; an import while the rule runs raises `ModuleNotFoundError`.
"""

import json
import sys
import time
import warnings  # noqa: F401  (the standard library imports it lazily, e.g. in hmac; kept in the component)
from typing import Any, Callable, List, Optional, Union

from wit_world import WitWorld as _WitWorld
from wit_world.imports import host as _host
from wit_world.imports import types as _types

from .events import BODIES, ConversationBody, Envelope, Kind  # noqa: F401  (re-exported for type hints)

__all__ = ["rule", "Event", "Record", "drop", "Drop", "RuleError", "params", "lookup", "log", "Envelope"]


class RuleError(Exception):
    """A failure the rule knows about: the event is dead-lettered with this code and message, and can be redriven
    once the cause is fixed. `code` is short and stable (`invalid-event`, `lookup-missing`); the message is for a
    person and must not carry personal data."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class Record:
    """One record for Kinesis: `data` is any JSON value (written compactly, keys in the order given) or, as
    `Record.raw`, JSON text the rule already has. `stream` overrides the rule's stream."""

    __slots__ = ("partition_key", "data", "stream")

    def __init__(self, partition_key: str, data: Any, stream: Optional[str] = None):
        self.partition_key = partition_key
        self.data = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        self.stream = stream

    @classmethod
    def raw(cls, partition_key: str, json_text: str, stream: Optional[str] = None) -> "Record":
        record = cls.__new__(cls)
        record.partition_key, record.data, record.stream = partition_key, json_text, stream
        return record

    def json(self) -> Any:
        """The data as a Python value (e.g. a record an earlier module of the chain made)."""
        return json.loads(self.data)

    def __repr__(self) -> str:
        return f"Record({self.partition_key!r}, {self.data})"


class Drop:
    """The event is filtered out, with a reason that is counted and reported."""

    __slots__ = ("reason",)

    def __init__(self, reason: str):
        self.reason = reason


def drop(reason: str) -> Drop:
    return Drop(reason)


class Event:
    """One input event: what weft already knows about it, and the envelope as JSON text, parsed on first use."""

    __slots__ = ("id", "detail_type", "topic_name", "kind", "conversation_id", "envelope", "records", "_parsed")

    def __init__(self, event: "_types.Event"):
        #: The EventBridge envelope `id` (records carry it as `_id`).
        self.id: str = event.id
        #: The envelope `detail-type`, the topic template.
        self.detail_type: str = event.detail_type
        #: `detail.topicName`, when present.
        self.topic_name: Optional[str] = event.topic_name
        #: For conversation detail events, the suffix after the conversation id (`customer.start`, `acw`, ...);
        #: `None` for other topic families.
        self.kind: Optional[Kind] = event.kind
        #: The conversation id, from the topic name.
        self.conversation_id: Optional[str] = event.conversation_id
        #: The envelope exactly as delivered.
        self.envelope: str = event.envelope
        #: What the previous module of the rule's chain produced (empty for the first module).
        self.records: List[Record] = [Record.raw(r.partition_key, r.data, r.stream) for r in event.records]
        self._parsed: Optional[Envelope] = None

    @property
    def partition_key(self) -> str:
        """weft's default partition key: the conversation id, else the envelope id."""
        return self.conversation_id or self.id

    def parse(self) -> Envelope:
        """The whole envelope as a dict (parsed once). Raises `RuleError("invalid-json", ...)` if it is not JSON."""
        if self._parsed is None:
            try:
                self._parsed = json.loads(self.envelope)
            except ValueError as error:
                raise RuleError("invalid-json", str(error)) from None
        return self._parsed

    def body(self) -> ConversationBody:
        """`detail.eventBody` (an empty dict when absent); its keys are those of `weft.events.BODIES[kind]`."""
        body = (self.parse().get("detail") or {}).get("eventBody")
        return body if isinstance(body, dict) else {}


_params: Any = None
_params_read = False


def params() -> Any:
    """This module's parameters from the rule set manifest (`None` when it gives none), parsed once."""
    global _params, _params_read
    if not _params_read:
        _params, _params_read = json.loads(_host.params()), True
    return _params


def lookup(table: str, key: str) -> Optional[str]:
    """`key` in the lookup table `table` that the deployer attached to this rule, or `None`."""
    return _host.lookup(table, key)


_LEVELS = {name: getattr(_host.Level, name.upper()) for name in ("trace", "debug", "info", "warn", "error")}


def log(level: str, message: str) -> None:
    """A log line (`trace`, `debug`, `info`, `warn` or `error`), tagged by weft with the module and event."""
    _host.log(_LEVELS.get(level, _host.Level.INFO), message)


class _ToLog:
    """`print()` and tracebacks: without WASI there is no stdout, so lines go to weft's log."""

    def __init__(self, level: str):
        self.level, self.pending = level, ""

    def write(self, text: str) -> int:
        self.pending += text
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            log(self.level, line)
        return len(text)

    def flush(self) -> None:
        if self.pending:
            log(self.level, self.pending)
            self.pending = ""


sys.stdout, sys.stderr = _ToLog("info"), _ToLog("warn")


def _no_clock(*_args: Any) -> float:
    raise RuleError("no-clock", "weft rules have no clock (no WASI is granted): use eventBody.eventTime")


# Without WASI these would trap with no message; a RuleError says why, and costs only its event.
time.time = time.time_ns = time.monotonic = time.monotonic_ns = time.perf_counter = time.perf_counter_ns = _no_clock

class _NoImportsWhileRunning:
    """Imports read files, and a running rule has none: a module not imported when the rule was built (Python
    modules imported while building are kept in the component) is refused with an error that says so, rather than
    trapping, and code that tries an import and falls back on failure (as `hmac` does) keeps working."""

    @staticmethod
    def find_spec(name: str, path: Any = None, target: Any = None) -> None:
        raise ModuleNotFoundError(
            f"{name}: no module can be imported while a rule runs (there are no files): import it at the top of "
            "rule.py",
            name=name,
        )


def _seal_imports() -> None:
    """Before the first event (building has imported what it keeps by then): every later import that would read a
    file fails."""
    import importlib.machinery

    finders = sys.meta_path
    if _NoImportsWhileRunning not in finders:
        at = next((i for i, f in enumerate(finders) if f is importlib.machinery.PathFinder), len(finders))
        finders.insert(at, _NoImportsWhileRunning)


Handler = Callable[[Event], Union[Record, List[Record], Drop]]
_handler: Optional[Handler] = None


def rule(handler: Handler) -> Handler:
    """Makes `handler` this module's rule (one per module)."""
    global _handler
    if _handler is not None and _handler is not handler:
        raise RuntimeError(f"a module has one rule: {_handler.__name__} already is, {handler.__name__} cannot be")
    _handler = handler
    return handler


def _outcome(event: "_types.Event") -> "_types.Outcome":
    if _handler is None:
        return _types.Outcome_Error(_types.RuleError("no-rule", "the module has no function marked @weft.rule"))
    try:
        answer = _handler(Event(event))
        if isinstance(answer, Drop):
            return _types.Outcome_Drop(answer.reason)
        records = [answer] if isinstance(answer, Record) else answer
        if not isinstance(records, list) or not all(isinstance(r, Record) for r in records):
            raise TypeError(f"a rule returns a Record, a list of Records or drop(reason), not {type(answer).__name__}")
        return _types.Outcome_Records([_types.OutputRecord(r.partition_key, r.data, r.stream) for r in records])
    except RuleError as error:
        return _types.Outcome_Error(_types.RuleError(error.code, error.message))
    except Exception as error:  # noqa: BLE001 - every exception costs only its event
        message = f"{type(error).__name__}: {error}"
        log("error", f"the rule raised {message}")
        return _types.Outcome_Error(_types.RuleError("exception", message))


class WitWorld(_WitWorld):
    """The exports of weft's `rule` world, implemented over the function marked `@weft.rule`."""

    def process(self, event: "_types.Event") -> "_types.Outcome":
        _seal_imports()
        return _outcome(event)

    def process_batch(self, events: List["_types.Event"]) -> List["_types.Outcome"]:
        _seal_imports()
        return [_outcome(event) for event in events]
