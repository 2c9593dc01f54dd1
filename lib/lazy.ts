/**
 * A class whose code loads on first use: `new`, `extends`, `instanceof` and
 * static members all reach the class `load()` returns, loaded when one of them
 * is first used. Lets the core export a class of a part it loads lazily
 * (lib/parts.ts) under its own name.
 */
export function lazyClass<C extends abstract new (...args: never[]) => object>(name: string, load: () => C): C {
  // A plain function as the target: a Proxy can only be constructed when its target can.
  const target = { [name]: () => {} }[name] as unknown as C;
  const proxy: C = new Proxy(target, {
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
