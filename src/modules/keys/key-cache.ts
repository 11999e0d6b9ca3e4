import { LRUCache } from "lru-cache";
import { KEY_BYTES } from "./envelope";

/**
 * Unwrapped keys by name, bounded by count and age, their bytes in one slab of memory. Cached as
 * one Buffer each, 250,000 unwrapped keys took 113 MB of RSS (60 MB of heap), their names aside:
 * the objects around 32 bytes, not the bytes. Here an entry is its name, lru-cache's row for it
 * and 32 bytes of the slab: 25 MB for the same keys (13 MB of heap).
 *
 * A get hands out a copy: a slot is reused once its key is evicted, and a caller may hold a key
 * across an await. The copy has memory of its own, not a slice of node's shared pool of small
 * buffers, which other callers get uninitialised. A key that leaves the cache (evicted, expired,
 * deleted) is zeroed in the slab.
 */
export class KeyCache {
  private readonly slots: LRUCache<string, number>;
  private readonly slab: Buffer;
  /** Slots given back, as a stack; slots from `fresh` on were never used. */
  private readonly free: Int32Array;
  private freeCount = 0;
  private fresh = 0;

  constructor(options: { max: number; ttlMs: number; now?: () => number }) {
    // One slot more than entries: a set takes its slot before lru-cache evicts (and frees) the oldest.
    const slots = options.max + 1;
    this.slab = Buffer.alloc(slots * KEY_BYTES);
    this.free = new Int32Array(slots);
    this.slots = new LRUCache<string, number>({
      max: options.max,
      ttl: options.ttlMs,
      dispose: (slot) => this.release(slot),
      // An injected clock is read at each call (lru-cache otherwise keeps its reading for 1 ms).
      ...(options.now ? { perf: { now: options.now }, ttlResolution: 0 } : {}),
    });
  }

  get size(): number {
    return this.slots.size;
  }

  get(name: string): Buffer | undefined {
    const slot = this.slots.get(name);
    if (slot === undefined) return undefined;
    const key = Buffer.alloc(KEY_BYTES);
    this.slab.copy(key, 0, slot * KEY_BYTES, (slot + 1) * KEY_BYTES);
    return key;
  }

  set(name: string, key: Buffer): void {
    if (key.length !== KEY_BYTES) throw new Error(`a cached key has ${KEY_BYTES} bytes`);
    const slot = this.freeCount ? this.free[--this.freeCount] : this.fresh++;
    key.copy(this.slab, slot * KEY_BYTES);
    this.slots.set(name, slot);
  }

  delete(name: string): void {
    this.slots.delete(name);
  }

  clear(): void {
    this.slots.clear();
  }

  private release(slot: number): void {
    this.slab.fill(0, slot * KEY_BYTES, (slot + 1) * KEY_BYTES);
    this.free[this.freeCount++] = slot;
  }
}
