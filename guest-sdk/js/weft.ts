/**
 * weft's SDK for rules written in TypeScript or JavaScript: one function given to `rule`, a typed event in,
 * records out.
 *
 *     import * as weft from "weft";
 *
 *     weft.rule((event) => {
 *       if (event.kind === undefined) return weft.drop("not a conversation detail event");
 *       const body = event.body();
 *       return new weft.Record(event.partitionKey, { _id: event.id, mediaType: body.mediaType ?? null });
 *     });
 *
 * The function returns a `Record`, an array of them (an empty array counts as a drop), or `drop(reason)`; it
 * throws `RuleError(code, message)` for a failure it knows about. Anything else it throws becomes a dead letter
 * too (code `exception`, the error's name and message), for its event only: the rule never traps on it.
 *
 * The module runs in weft's sandbox with no WASI: no files, network, environment, clock or randomness. Reading
 * the clock (`Date.now()`, `new Date()`) throws `RuleError("no-clock")` and `Math.random()` or `crypto` throw
 * `RuleError("no-random")`: without them the engine would answer with the instant and the seed of the build,
 * silently the same for every event. `console.log()` goes to weft's log. Numbers are JavaScript numbers: an
 * integer beyond 2^53 in an event loses precision (Genesys sends none).
 *
 * This file is built into the weft binary and bundled with each rule, so the SDK always matches its host.
 */

import * as host from "weft:rules/host@0.1.0";
import type { AnyBody, Bodies, Envelope, Kind, KnownKind } from "./events";

export type * from "./events";

/** A failure the rule knows about: the event is dead-lettered with this code and message, and can be redriven
 * once the cause is fixed. `code` is short and stable (`invalid-event`, `lookup-missing`); the message is for a
 * person and must not carry personal data. */
export class RuleError extends Error {
  readonly code: string;

  constructor(code: string, message: string) {
    super(`${code}: ${message}`);
    this.name = "RuleError";
    this.code = code;
    this.reason = message;
  }

  /** The message without the code. */
  readonly reason: string;
}

/** One record for Kinesis: `data` is any JSON value (written compactly, members in the order given) or, with
 * `Record.raw`, JSON text the rule already has. `stream` overrides the rule's stream. */
export class Record {
  readonly partitionKey: string;
  data: string;
  readonly stream: string | undefined;

  constructor(partitionKey: string, data: unknown, stream?: string) {
    const text = JSON.stringify(data);
    if (text === undefined) {
      throw new TypeError(`a record's data must be a JSON value, not ${typeof data}`);
    }
    this.partitionKey = partitionKey;
    this.data = text;
    this.stream = stream;
  }

  static raw(partitionKey: string, json: string, stream?: string): Record {
    const record = Object.create(Record.prototype) as { -readonly [K in keyof Record]: Record[K] };
    record.partitionKey = partitionKey;
    record.data = json;
    record.stream = stream;
    return record as Record;
  }

  /** The data as a value (e.g. a record an earlier module of the chain made). */
  json<T = unknown>(): T {
    return JSON.parse(this.data) as T;
  }

  /** Sets one member of the data, a JSON object (e.g. a name stitched from a lookup table onto the record an
   * earlier module of the chain made). Members keep their order; a new one goes last. */
  set(key: string, value: unknown): this {
    const object = this.json();
    if (typeof object !== "object" || object === null || Array.isArray(object)) {
      throw new RuleError("record-not-object", "the record's data is not a JSON object");
    }
    (object as { [key: string]: unknown })[key] = value;
    this.data = JSON.stringify(object);
    return this;
  }
}

/** The event is filtered out, with a reason that is counted and reported. */
export class Drop {
  constructor(readonly reason: string) {}
}

export function drop(reason: string): Drop {
  return new Drop(reason);
}

interface WitRecord {
  partitionKey: string;
  data: string;
  stream?: string;
}

interface WitEvent {
  id: string;
  detailType: string;
  topicName?: string;
  kind?: string;
  conversationId?: string;
  envelope: string;
  records: WitRecord[];
}

type WitOutcome =
  | { tag: "records"; val: WitRecord[] }
  | { tag: "drop"; val: string }
  | { tag: "error"; val: { code: string; message: string } };

/** One input event: what weft already knows about it, and the envelope as JSON text, parsed on first use. */
export class Event {
  /** The EventBridge envelope `id` (records carry it as `_id`). */
  readonly id: string;
  /** The envelope `detail-type`, the topic template. */
  readonly detailType: string;
  /** `detail.topicName`, when present. */
  readonly topicName: string | undefined;
  /** For conversation detail events, the suffix after the conversation id (`customer.start`, `acw`, ...);
   * `undefined` for other topic families. */
  readonly kind: Kind | undefined;
  /** The conversation id, from the topic name. */
  readonly conversationId: string | undefined;
  /** The envelope exactly as delivered. */
  readonly envelope: string;
  /** What the previous module of the rule's chain produced (empty for the first module). */
  readonly records: Record[];
  #parsed: Envelope | undefined;

  constructor(event: WitEvent) {
    this.id = event.id;
    this.detailType = event.detailType;
    this.topicName = event.topicName ?? undefined;
    this.kind = event.kind ?? undefined;
    this.conversationId = event.conversationId ?? undefined;
    this.envelope = event.envelope;
    this.records = event.records.map((r) => Record.raw(r.partitionKey, r.data, r.stream ?? undefined));
  }

  /** weft's default partition key: the conversation id, else the envelope id. */
  get partitionKey(): string {
    return this.conversationId ?? this.id;
  }

  /** The whole envelope (parsed once). Throws `RuleError("invalid-json")` if it is not JSON. */
  parse(): Envelope {
    if (this.#parsed === undefined) {
      try {
        this.#parsed = JSON.parse(this.envelope) as Envelope;
      } catch (error) {
        throw new RuleError("invalid-json", String((error as Error).message ?? error));
      }
    }
    return this.#parsed;
  }

  /** `detail.eventBody` (an empty object when absent). */
  body(): AnyBody {
    const body = this.parse().detail?.eventBody;
    return typeof body === "object" && body !== null && !Array.isArray(body) ? body : {};
  }

  /** `detail.eventBody` typed for `kind`, when the event is of that kind; `undefined` otherwise. */
  bodyOf<K extends KnownKind>(kind: K): Bodies[K] | undefined {
    return this.kind === kind ? (this.body() as Bodies[K]) : undefined;
  }
}

let paramsRead = false;
let paramsValue: unknown;

/** This module's parameters from the rule set manifest (`null` when it gives none), parsed once. */
export function params<T = unknown>(): T {
  if (!paramsRead) {
    paramsValue = JSON.parse(host.params());
    paramsRead = true;
  }
  return paramsValue as T;
}

/** `key` in the lookup table `table` that the deployer attached to this rule, or `undefined`. */
export function lookup(table: string, key: string): string | undefined {
  return host.lookup(table, key) ?? undefined;
}

export type Level = host.Level;

/** A log line, tagged by weft with the module and event. */
export function log(level: Level, message: string): void {
  host.log(level, message);
}

function text(values: unknown[]): string {
  return values
    .map((v) => {
      if (typeof v === "string") return v;
      if (v instanceof Error) return `${v.name}: ${v.message}`;
      try {
        return JSON.stringify(v) ?? String(v);
      } catch {
        return String(v);
      }
    })
    .join(" ");
}

// Without WASI, console output would go nowhere: it goes to weft's log. (QuickJS has no `console` at all.)
const logAt = (level: Level) => (...values: unknown[]) => host.log(level, text(values));
globalThis.console = Object.assign(globalThis.console ?? {}, {
  log: logAt("info"),
  info: logAt("info"),
  debug: logAt("debug"),
  warn: logAt("warn"),
  error: logAt("error"),
});

function noClock(): never {
  throw new RuleError("no-clock", "weft rules have no clock (no WASI is granted): use eventBody.eventTime");
}

function noRandom(): never {
  throw new RuleError(
    "no-random",
    "weft rules have no randomness (no WASI is granted): derive what you need from the event, e.g. a hash of its id",
  );
}

// The engine would answer these with the instant and the seed it had when the module was built.
Date.now = noClock;
globalThis.Date = new Proxy(Date, {
  apply: noClock,
  construct(target, args, newTarget) {
    if (args.length === 0) noClock();
    return Reflect.construct(target, args, newTarget) as object;
  },
});
Math.random = noRandom;
// Replaced whole, not patched: QuickJS's `performance.now` is read-only, and it has no `crypto` to patch.
Object.defineProperty(globalThis, "performance", { value: { now: noClock }, writable: true, configurable: true });
Object.defineProperty(globalThis, "crypto", {
  value: { getRandomValues: noRandom, randomUUID: noRandom },
  writable: true,
  configurable: true,
});

export type Answer = Record | Record[] | Drop;
export type Handler = (event: Event) => Answer;

let handler: Handler | undefined;

/** Makes `fn` this module's rule (one per module). */
export function rule<F extends Handler>(fn: F): F {
  if (handler !== undefined && handler !== fn) {
    throw new Error("a module has one rule: weft.rule() was called twice");
  }
  handler = fn;
  return fn;
}

function witRecord(r: Record): WitRecord {
  return r.stream === undefined
    ? { partitionKey: r.partitionKey, data: r.data }
    : { partitionKey: r.partitionKey, data: r.data, stream: r.stream };
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array of other things";
  if (typeof value === "object") return (value as object).constructor?.name ?? "object";
  return typeof value;
}

function outcome(event: WitEvent): WitOutcome {
  if (handler === undefined) {
    return { tag: "error", val: { code: "no-rule", message: "the module calls weft.rule() with no function" } };
  }
  try {
    const answer: unknown = handler(new Event(event));
    if (answer instanceof Drop) return { tag: "drop", val: answer.reason };
    const records = answer instanceof Record ? [answer] : answer;
    if (!Array.isArray(records) || !records.every((r) => r instanceof Record)) {
      throw new TypeError(`a rule returns a Record, an array of Records or drop(reason), not ${describe(answer)}`);
    }
    return { tag: "records", val: records.map(witRecord) };
  } catch (error) {
    if (error instanceof RuleError) {
      return { tag: "error", val: { code: error.code, message: error.reason } };
    }
    const message = error instanceof Error ? `${error.name}: ${error.message}` : `thrown: ${text([error])}`;
    host.log("error", `the rule threw ${message}`);
    return { tag: "error", val: { code: "exception", message } };
  }
}

/** The exports of weft's `rule` world, implemented over the function given to `rule`; the build's entry module
 * exports them. Not for rules to call. */
export const world = {
  process: outcome,
  processBatch: (events: WitEvent[]): WitOutcome[] => events.map(outcome),
};
