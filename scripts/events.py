#!/usr/bin/env python3
"""Prints EVENTS events, one per line, for the comparison scripts: the shipped samples repeated, each with a fresh
envelope id (`ID-N`), as EventBridge would deliver them.

    scripts/events.py EVENTS [KIND ...]

With KINDs (e.g. customer.start customer.end acw, the three topics Genesys' Java blueprint handles), only the
conversation detail events of those kinds are used.
"""
import itertools
import json
import pathlib
import sys

PREFIX = "v2.detail.events.conversation."


def kind(event):
    topic = event.get("detail", {}).get("topicName", "")
    return topic[len(PREFIX):].split(".", 1)[-1] if topic.startswith(PREFIX) else None


def main(events, kinds):
    samples = pathlib.Path(__file__).resolve().parent.parent / "samples" / "events"
    lines = [json.loads(l) for f in sorted(samples.glob("*.jsonl")) for l in f.read_text().splitlines() if l]
    chosen = [e for e in lines if not kinds or kind(e) in kinds]
    if not chosen:
        sys.exit(f"events.py: no sample event is of the kinds {', '.join(kinds)}")
    for i, event in zip(range(events), itertools.cycle(chosen)):
        print(json.dumps({**event, "id": f"{event['id']}-{i}"}, separators=(",", ":"), ensure_ascii=False))


if __name__ == "__main__":
    main(int(sys.argv[1]), set(sys.argv[2:]))
