/**
 * @peculiar/x509 (through tsyringe) needs the Reflect metadata API (`Reflect.getMetadata`, …), which
 * is normally supplied by the reflect-metadata package. That package is not a dependency here, so
 * this module installs the few functions tsyringe and the decorators of @peculiar/asn1 use — only
 * when nothing else has installed them. It must be evaluated before @peculiar/x509 is loaded; the
 * key module imports it first and loads x509 dynamically afterwards.
 */
type Key = string | symbol | undefined;
type Target = object;

interface ReflectMetadataApi {
  defineMetadata(key: unknown, value: unknown, target: Target, prop?: Key): void;
  getOwnMetadata(key: unknown, target: Target, prop?: Key): unknown;
  hasOwnMetadata(key: unknown, target: Target, prop?: Key): boolean;
  getMetadata(key: unknown, target: Target, prop?: Key): unknown;
  hasMetadata(key: unknown, target: Target, prop?: Key): boolean;
  metadata(key: unknown, value: unknown): (target: Target, prop?: Key) => void;
}

const R = Reflect as unknown as Partial<ReflectMetadataApi>;

if (typeof R.getMetadata !== 'function') {
  const store = new WeakMap<Target, Map<Key, Map<unknown, unknown>>>();
  const mapFor = (target: Target, prop: Key, create: boolean): Map<unknown, unknown> | undefined => {
    let byProp = store.get(target);
    if (!byProp) {
      if (!create) return undefined;
      byProp = new Map();
      store.set(target, byProp);
    }
    let m = byProp.get(prop);
    if (!m && create) {
      m = new Map();
      byProp.set(prop, m);
    }
    return m;
  };
  const api: ReflectMetadataApi = {
    defineMetadata: (key, value, target, prop) => void mapFor(target, prop, true)!.set(key, value),
    getOwnMetadata: (key, target, prop) => mapFor(target, prop, false)?.get(key),
    hasOwnMetadata: (key, target, prop) => mapFor(target, prop, false)?.has(key) ?? false,
    getMetadata: (key, target, prop) => {
      for (let o: Target | null = target; o; o = Object.getPrototypeOf(o) as Target | null) {
        const m = mapFor(o, prop, false);
        if (m?.has(key)) return m.get(key);
      }
      return undefined;
    },
    hasMetadata: (key, target, prop) => api.getMetadata(key, target, prop) !== undefined,
    metadata: (key, value) => (target, prop) => api.defineMetadata(key, value, target, prop),
  };
  Object.assign(Reflect, api);
}

export {};
