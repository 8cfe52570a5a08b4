// A promise steered from outside: a test holds a handler at a chosen point and lets it go later.

/** A promise with the functions that settle it. */
export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(reason: unknown): void;
}

/**
 * A promise with its `resolve` and `reject` (what `Promise.withResolvers` does from Node 22).
 *
 * @example
 * ```ts
 * const release = deferred();
 * const engine = engineWith({ slow: () => release.promise });
 * // … assert while the job is running, then:
 * release.resolve();
 * ```
 */
export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
