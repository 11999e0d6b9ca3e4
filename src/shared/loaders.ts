import DataLoader from "dataloader";

/**
 * Per-request DataLoaders. A loader factory is registered by the feature that owns the data;
 * the cache lives and dies with the request, so keys never leak between callers.
 */
export type LoaderFactory<C, K, V> = (ctx: C) => DataLoader<K, V>;

export class LoaderCache {
  private readonly loaders = new Map<LoaderFactory<never, unknown, unknown>, DataLoader<unknown, unknown>>();

  get<C, K, V>(ctx: C, factory: LoaderFactory<C, K, V>): DataLoader<K, V> {
    let loader = this.loaders.get(factory as LoaderFactory<never, unknown, unknown>);
    if (!loader) {
      loader = factory(ctx) as DataLoader<unknown, unknown>;
      this.loaders.set(factory as LoaderFactory<never, unknown, unknown>, loader);
    }
    return loader as DataLoader<K, V>;
  }

  private readonly named = new Map<string, DataLoader<unknown, unknown>>();

  /** A loader by name, for loaders that differ by more than their factory (a page's arguments). */
  keyed<K, V>(name: string, create: () => DataLoader<K, V>): DataLoader<K, V> {
    let loader = this.named.get(name);
    if (!loader) {
      loader = create() as DataLoader<unknown, unknown>;
      this.named.set(name, loader);
    }
    return loader as DataLoader<K, V>;
  }

  /** After a write, cached reads may be stale. */
  clear(): void {
    this.loaders.clear();
    this.named.clear();
  }
}

export { DataLoader };

/**
 * A loader of the rows under each parent: one query per batch (`load` gets the distinct parent
 * keys and returns rows in the order each parent's list should have), each key answered with its
 * rows, or none.
 */
export function byParentLoader<R, V>(load: (keys: string[]) => Promise<R[]>, parentOf: (row: R) => string, map: (row: R) => V): DataLoader<string, V[]> {
  return new DataLoader<string, V[]>(async (keys) => {
    const groups = new Map<string, V[]>();
    for (const row of await load([...keys])) {
      const key = parentOf(row);
      const group = groups.get(key);
      if (group) group.push(map(row));
      else groups.set(key, [map(row)]);
    }
    return keys.map((key) => groups.get(key) ?? []);
  });
}

/**
 * A loader of rows by a unique key: one query per batch (`load` gets the distinct keys), each key
 * answered with its row or null.
 */
export function byKeyLoader<R, V>(load: (keys: string[]) => Promise<R[]>, keyOf: (row: R) => string, map: (row: R) => V): DataLoader<string, V | null> {
  return new DataLoader<string, V | null>(async (keys) => {
    const rows = await load([...keys]);
    const byKey = new Map(rows.map((row) => [keyOf(row), map(row)]));
    return keys.map((key) => byKey.get(key) ?? null);
  });
}
