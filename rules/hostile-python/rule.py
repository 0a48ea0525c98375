"""Misbehaves as the event's `detail.eventBody.attack` says, to prove weft contains a Python module as it contains a
Rust one (host/tests/python_rules.rs). Anything else gets one well-formed record. Never deploy it."""

import time

import weft


@weft.rule
def hostile(event: weft.Event):
    attack = event.body().get("attack", "none")
    if attack == "loop":
        while True:
            pass
    if attack == "memory":
        hoard = []
        while True:
            hoard.append(bytearray(1 << 20))
    if attack == "raise":
        raise ValueError("raised on purpose")
    if attack == "error":
        raise weft.RuleError("on-purpose", "the event asked for an error")
    if attack == "huge-record":
        return weft.Record(event.partition_key, "x" * (2 << 20))
    if attack == "many-records":
        return [weft.Record(event.partition_key, i) for i in range(10_000)]
    if attack == "clock":
        return weft.Record(event.partition_key, time.time())
    if attack == "wrong-answer":
        return {"not": "a record"}
    if attack == "print":
        print("a line from print()")
    return weft.Record(event.partition_key, {"ok": event.id})
