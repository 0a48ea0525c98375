// What weft's world (guest-sdk/wit/rule.wit) gives a JavaScript module, as componentize-qjs binds it, and the few
// globals a rule may use. Nothing else is declared: the module has no DOM, no Node.js and no WASI.

declare module "weft:rules/host@0.1.0" {
  export type Level = "trace" | "debug" | "info" | "warn" | "error";
  export function log(level: Level, message: string): void;
  export function lookup(table: string, key: string): string | undefined;
  export function params(): string;
}

/** `console` writes to weft's log (`log` and `info` at info, `debug`, `warn`, `error` at theirs). */
declare var console: {
  log(...values: unknown[]): void;
  info(...values: unknown[]): void;
  debug(...values: unknown[]): void;
  warn(...values: unknown[]): void;
  error(...values: unknown[]): void;
};
