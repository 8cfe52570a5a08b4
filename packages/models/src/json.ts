/** A JSON value: what payloads and outputs may be. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** Where and why a value is not JSON. */
export interface JsonProblem {
  path: (string | number)[];
  message: string;
}

/**
 * Finds the first part of `value` that would not survive a JSON round trip unchanged:
 * functions, symbols, BigInt, `undefined` (anywhere), non-finite numbers, cycles, and objects
 * that are not plain (Date, Map, class instances). Returns `undefined` when the value is JSON.
 */
export function findJsonProblem(value: unknown): JsonProblem | undefined {
  // Primitives (most outputs) are answered without allocating the walk's path and cycle set.
  if (value === null || typeof value === "string" || typeof value === "boolean") return undefined;
  if (typeof value === "number" && Number.isFinite(value)) return undefined;
  const path: (string | number)[] = [];
  const onPath = new Set<object>();
  const visit = (v: unknown): string | undefined => {
    switch (typeof v) {
      case "string":
      case "boolean":
        return undefined;
      case "number":
        return Number.isFinite(v) ? undefined : `${String(v)} is not a JSON number`;
      case "undefined":
        return "undefined is not a JSON value";
      case "bigint":
        return "BigInt is not a JSON value";
      case "function":
        return "a function is not a JSON value";
      case "symbol":
        return "a symbol is not a JSON value";
      case "object": {
        if (v === null) return undefined;
        if (onPath.has(v)) return "circular reference";
        if (Array.isArray(v)) {
          onPath.add(v);
          for (let i = 0; i < v.length; i++) {
            path.push(i);
            const p = visit(v[i]);
            if (p) return p;
            path.pop();
          }
          onPath.delete(v);
          return undefined;
        }
        const proto = Object.getPrototypeOf(v) as unknown;
        if (proto !== Object.prototype && proto !== null) {
          const ctor = (v as { constructor?: { name?: string } }).constructor?.name ?? "object";
          return `${ctor} is not a plain JSON object`;
        }
        onPath.add(v);
        for (const key of Object.keys(v)) {
          path.push(key);
          const p = visit((v as Record<string, unknown>)[key]);
          if (p) return p;
          path.pop();
        }
        onPath.delete(v);
        return undefined;
      }
    }
  };
  const message = visit(value);
  return message === undefined ? undefined : { path: [...path], message };
}

/** True when `value` is a JSON value (see {@link findJsonProblem}). */
export function isJsonValue(value: unknown): value is JsonValue {
  return findJsonProblem(value) === undefined;
}
