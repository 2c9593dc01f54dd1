/**
 * A class whose code loads on first use: `new`, `extends`, `instanceof` and
 * static members all reach the class `load()` returns, loaded when one of them
 * is first used. Lets the core export a class of a part it loads lazily
 * (lib/parts.ts) under its own name.
 */
export function lazyClass<C extends abstract new (...args: never[]) => object>(name: string, load: () => C): C {
  // The Proxy's target must be constructible (else `new` and `extends` fail)
  // and have a writable `prototype` (a class's is read-only, and the Proxy
  // could not answer with the loaded class's): a plain function. It uses
  // `this`, so no minifier turns it into an arrow function.
  const target = function (this: unknown) {
    return this;
  };
  Object.defineProperty(target, 'name', { value: name });
  const proxy: C = new Proxy(target as unknown as C, {
    construct: (_t, args, newTarget) =>
      Reflect.construct(
        load() as unknown as new (
          ...a: unknown[]
        ) => object,
        args,
        newTarget === proxy ? load() : newTarget,
      ),
    get: (_t, key) => Reflect.get(load(), key),
    has: (_t, key) => Reflect.has(load(), key),
    getPrototypeOf: () => Reflect.getPrototypeOf(load()),
  });
  return proxy;
}
