// Misbehaves as the event's `detail.eventBody.attack` says, to prove weft contains a JavaScript module as it
// contains a Rust one (host/tests/js_rules.rs). Anything else gets one well-formed record. Never deploy it.

import * as weft from "weft";

weft.rule((event) => {
  const attack = event.body().attack ?? "none";
  switch (attack) {
    case "loop":
      for (;;) {}
    case "memory": {
      const hoard = [];
      for (;;) hoard.push(new Uint8Array(1 << 20).fill(1));
    }
    case "throw":
      throw new RangeError("thrown on purpose");
    case "throw-string":
      throw "a string, not an Error";
    case "error":
      throw new weft.RuleError("on-purpose", "the event asked for an error");
    case "huge-record":
      return new weft.Record(event.partitionKey, "x".repeat(2 << 20));
    case "many-records":
      return Array.from({ length: 10000 }, (_, i) => new weft.Record(event.partitionKey, i));
    case "clock":
      return new weft.Record(event.partitionKey, Date.now());
    case "random":
      return new weft.Record(event.partitionKey, Math.random());
    case "event-date":
      // A date from the event is not the clock: it works as usual.
      return weft.drop(new Date(1764237600000).toISOString() + " " + Date.parse("2025-11-27T10:00:00Z"));
    case "new-date":
      return new weft.Record(event.partitionKey, String(new Date()));
    case "performance":
      return new weft.Record(event.partitionKey, performance.now());
    case "crypto":
      return new weft.Record(event.partitionKey, Array.from(crypto.getRandomValues(new Uint8Array(4))));
    case "wrong-answer":
      return { not: "a record" };
    case "print":
      console.log("a line from console.log()");
  }
  return new weft.Record(event.partitionKey, { ok: event.id });
});
