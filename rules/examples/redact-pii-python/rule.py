"""PII redaction, in Python: the twin of rules/examples/redact-pii (Rust), with the same golden cases and the same
records byte for byte (host/tests/python_rules.rs runs both over the samples and compares).

Replaces `ani`, `dnis`, `addressFrom`, `addressTo` and `callbackNumbers` with a keyed hash (HMAC-SHA256 under a
key from the parameters), so a stream can join on a caller without carrying the number. Alone, it writes
`{_id, topicName, eventBody}` with the body redacted; in a chain, it redacts those members of the records of the
module before it.

Parameters: `key` (required: a secret of at least 16 characters), `fields` (default: the five above).
"""

import hashlib
import hmac
import json

import weft

PII_FIELDS = ["ani", "dnis", "addressFrom", "addressTo", "callbackNumbers"]


def keyed_hash(key: bytes, value: str) -> str:
    """`hmac-sha256:` and the hex digest of `value` under `key`."""
    return "hmac-sha256:" + hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def json_text(value) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def redact(obj: dict, fields, key: bytes) -> None:
    """Replaces each named member: a string by its hash, an array by its members' hashes, anything else by the
    hash of its JSON text."""
    for field in fields:
        if field not in obj or obj[field] is None:
            continue
        value = obj[field]
        if isinstance(value, str):
            obj[field] = keyed_hash(key, value)
        elif isinstance(value, list):
            obj[field] = [keyed_hash(key, v if isinstance(v, str) else json_text(v)) for v in value]
        else:
            obj[field] = keyed_hash(key, json_text(value))


def params():
    params = weft.params() or {}
    if not isinstance(params, dict) or set(params) - {"key", "fields"}:
        raise weft.RuleError("invalid-params", "module parameters: only `key` and `fields` are known")
    key = params.get("key")
    if not isinstance(key, str) or len(key) < 16:
        raise weft.RuleError("invalid-params", "`key` is required: a secret of at least 16 characters")
    return key.encode(), params.get("fields") or PII_FIELDS


@weft.rule
def redact_pii(event: weft.Event):
    key, fields = params()
    if event.records:
        out = []
        for record in event.records:
            data = record.json()
            if not isinstance(data, dict):
                raise weft.RuleError("invalid-event", "`record`: the data is not a JSON object")
            redact(data, fields, key)
            out.append(weft.Record(record.partition_key, data, record.stream))
        return out
    body = event.body()
    redact(body, fields, key)
    return weft.Record(event.partition_key, {"_id": event.id, "topicName": event.topic_name, "eventBody": body})
