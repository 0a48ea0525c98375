// Queue names, in TypeScript: the twin of rules/examples/queue-names (Rust), with the same golden cases and the
// same records, byte for byte.
//
// Stitches the name of an event's `queueId` (acd, user, acw, wrapup, voicemail events) from a lookup table of
// queue id → name (export it from `GET /api/v2/routing/queues`). In a chain it adds `queueName` to the records of
// the module before it; alone it writes `{_id, conversationId, queueId, queueName, timestamp}`. Events without a
// `queueId` pass through a chain unchanged (alone: dropped, "no queue").
//
// Parameters: `table` (default `queues`), `onMiss`: `null` (default), `id` (the id itself), `drop` or `error`.

import * as weft from "weft";

interface Params {
  table?: string;
  onMiss?: "null" | "id" | "drop" | "error";
}

const ON_MISS = ["null", "id", "drop", "error"];

function readParams(): Required<Params> {
  const params = weft.params<Params | null>() ?? {};
  for (const key of Object.keys(params)) {
    if (key !== "table" && key !== "onMiss") {
      throw new weft.RuleError("invalid-params", `unknown parameter \`${key}\`, expected \`table\` or \`onMiss\``);
    }
  }
  const onMiss = params.onMiss ?? "null";
  if (!ON_MISS.includes(onMiss)) {
    throw new weft.RuleError("invalid-params", `onMiss: unknown variant \`${onMiss}\``);
  }
  return { table: params.table ?? "queues", onMiss };
}

/** `eventBody[field]`, checked as the Rust twin's typed parse checks it: absent or null is `null`, another type than
 * the one the rule relies on dead-letters the event, naming the field. TypeScript's types are not checked at run
 * time: a rule that trusts them would write what Genesys sent, whatever its type. */
function read(body: weft.AnyBody, field: string, type: "string" | "integer"): string | number | null {
  const value = body[field];
  if (value === undefined || value === null) return null;
  if (type === "string" ? typeof value === "string" : Number.isSafeInteger(value)) {
    return value as string | number;
  }
  const found = Array.isArray(value) ? "sequence" : typeof value === "object" ? "map" : typeof value;
  const expected = type === "string" ? "a borrowed or owned string" : "i64";
  throw new weft.RuleError(
    "invalid-event",
    `\`detail.eventBody.${field}\`: invalid type: ${found} (value withheld), expected ${expected}`,
  );
}

weft.rule((event) => {
  const params = readParams();
  const body = event.body();
  const conversationId = read(body, "conversationId", "string");
  const queue = read(body, "queueId", "string") as string | null;
  const eventTime = read(body, "eventTime", "integer");
  if (queue === null) {
    return event.records.length === 0 ? weft.drop("no queue") : event.records;
  }
  let name = weft.lookup(params.table, queue) ?? null;
  if (name === null) {
    switch (params.onMiss) {
      case "id":
        name = queue;
        break;
      case "drop":
        return weft.drop("queue not in the table");
      case "error":
        throw new weft.RuleError("lookup-missing", `queue ${queue} is not in table ${params.table}`);
    }
  }
  if (event.records.length === 0) {
    return new weft.Record(event.partitionKey, {
      _id: event.id,
      conversationId,
      queueId: queue,
      queueName: name,
      timestamp: eventTime,
    });
  }
  return event.records.map((record) => record.set("queueName", name));
});
