import { LRUCache } from "lru-cache";
import { KEY_BYTES } from "./envelope";

interface Attachment {
  slot: number;
  /** Tells this attachment from a later one of the same slot (in `order`). */
  serial: number;
  under: string;
  value: unknown;
  bytes: number;
}

/** Expired keys one sweep deletes at most (about a millisecond's work). */
const SWEEP_BATCH = 1000;

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
 *
 * lru-cache expires an entry only when it is next touched: a key no one reads again would keep its
 * bytes for as long as the process lives. So each key's name is also kept in the window (a tenth
 * of the lifetime) it was set in, and a window's keys are deleted once all have expired, from
 * get, set and a timer: a key's bytes are zeroed within 1.2 lifetimes (plus a timer's delay).
 */
export class KeyCache {
  private readonly slots: LRUCache<string, number>;
  /** What each slot's key opened (see attach), found by the caller's own key for it (`under`). */
  private readonly attachedTo: Array<Attachment | undefined>;
  private readonly attachedUnder = new Map<string, Attachment>();
  private attachedTotal = 0;
  private serial = 0;
  /** Attachments as [slot, serial] pairs, oldest first from `orderHead`: the first to go for room. */
  private order: number[] = [];
  private orderHead = 0;
  private readonly slab: Buffer;
  /** Slots given back, as a stack; slots from `fresh` on were never used. */
  private readonly free: Int32Array;
  private freeCount = 0;
  private fresh = 0;
  /** The names set in each window, by the window's start, oldest first. */
  private readonly windows = new Map<number, Set<string>>();
  /** When each slot's key was set (its window, windowOf, follows from it). */
  private readonly setAt: Float64Array;
  private readonly windowMs: number;
  private readonly ttlMs: number;
  private readonly now: () => number;
  private nextSweep = 0;
  private readonly attachedBytes: number;

  /** `attachedBytes`: the bound on what keys may have attached (0: nothing is attached). */
  constructor(options: { max: number; ttlMs: number; attachedBytes?: number; now?: () => number }) {
    // One slot more than entries: a set takes its slot before lru-cache evicts (and frees) the oldest.
    const slots = options.max + 1;
    this.slab = Buffer.alloc(slots * KEY_BYTES);
    this.free = new Int32Array(slots);
    this.setAt = new Float64Array(slots);
    this.ttlMs = options.ttlMs;
    this.windowMs = Math.max(1, options.ttlMs / 10);
    this.now = options.now ?? (() => performance.now());
    this.slots = new LRUCache<string, number>({
      max: options.max,
      ttl: options.ttlMs,
      dispose: (slot, name) => {
        this.windows.get(this.windowOf(this.setAt[slot]))?.delete(name);
        this.detach(slot);
        this.release(slot);
      },
      // An injected clock is read at each call (lru-cache otherwise keeps its reading for 1 ms).
      ...(options.now ? { perf: { now: options.now }, ttlResolution: 0 } : {}),
    });
    this.attachedBytes = options.attachedBytes ?? 0;
    this.attachedTo = new Array<Attachment | undefined>(this.attachedBytes ? slots : 0);
    // A quiet process sweeps too; the timer lets the cache be collected, and then ends.
    const cache = new WeakRef(this);
    const timer = setInterval(() => {
      const alive = cache.deref();
      if (!alive) return clearInterval(timer);
      // A batch at a time, letting requests run between them.
      const more = () => void (cache.deref()?.sweep() && setImmediate(more));
      more();
    }, this.windowMs);
    timer.unref();
  }

  get size(): number {
    return this.slots.size;
  }

  get(name: string): Buffer | undefined {
    this.sweep();
    const slot = this.slots.get(name);
    if (slot === undefined) return undefined;
    const key = Buffer.alloc(KEY_BYTES);
    this.slab.copy(key, 0, slot * KEY_BYTES, (slot + 1) * KEY_BYTES);
    return key;
  }

  set(name: string, key: Buffer): void {
    if (key.length !== KEY_BYTES) throw new Error(`a cached key has ${KEY_BYTES} bytes`);
    const now = this.now();
    this.sweep(now);
    const slot = this.freeCount ? this.free[--this.freeCount] : this.fresh++;
    key.copy(this.slab, slot * KEY_BYTES);
    const window = this.windowOf(now);
    this.setAt[slot] = now;
    // Setting a name again disposes its older slot, which takes the name out of its window first.
    this.slots.set(name, slot);
    let names = this.windows.get(window);
    if (!names) this.windows.set(window, (names = new Set()));
    names.add(name);
  }

  delete(name: string): void {
    this.slots.delete(name);
  }

  /**
   * Keeps `value` (of about `bytes` in memory) with the cached key `name`, found by `under` (the
   * caller's own key for it: finding it costs no name made), for as long as the key stays and no
   * longer: it goes when the key goes (evicted, expired, deleted, set anew), and sooner, oldest
   * first, when the attachments' bound needs its room. It replaces what was kept under `under`.
   * Nothing is kept for a key not cached, nor one larger than a hundredth of the bound.
   */
  attach(name: string, under: string, value: unknown, bytes: number): void {
    if (bytes > this.attachedBytes / 100) return;
    const slot = this.slots.peek(name);
    if (slot === undefined) return;
    this.detach(slot);
    const older = this.attachedUnder.get(under);
    if (older) this.detach(older.slot);
    const attachment: Attachment = { slot, serial: ++this.serial, under, value, bytes };
    this.attachedTo[slot] = attachment;
    this.attachedUnder.set(under, attachment);
    this.attachedTotal += bytes;
    this.order.push(slot, attachment.serial);
    while (this.attachedTotal > this.attachedBytes) {
      const [oldest, serial] = [this.order[this.orderHead], this.order[this.orderHead + 1]];
      this.orderHead += 2;
      if (this.attachedTo[oldest]?.serial === serial) this.detach(oldest);
    }
    // Pairs already taken, and those of attachments that left with their keys (skipped when
    // reached), are dropped before they pile up.
    if (this.orderHead > this.order.length / 2 + 1024 || this.order.length - this.orderHead > 4 * this.attachedUnder.size + 1024) this.compactOrder();
  }

  /**
   * What is kept under `under`, while its key is cached and its lifetime not passed. A use of the
   * attachment is not one of the key (the key's age and recency stay as they were).
   */
  attachment(under: string): unknown {
    const attachment = this.attachedUnder.get(under);
    if (!attachment || this.now() - this.setAt[attachment.slot] >= this.ttlMs) return undefined;
    return attachment.value;
  }

  clear(): void {
    this.slots.clear();
  }

  /**
   * Deletes the keys of the windows whose keys have all expired, at most SWEEP_BATCH at a time (a
   * burst of 250,000 keys expires together: deleted at once, they would hold the event loop for
   * about 100 ms); while more are left, the next call goes on, else the next window's.
   * Returns whether more are left.
   */
  private sweep(now = this.now()): boolean {
    if (now < this.nextSweep) return false;
    let budget = SWEEP_BATCH;
    for (const [window, names] of this.windows) {
      if (window + this.windowMs + this.ttlMs > now) break;
      for (const name of names) {
        if (budget-- === 0) return true;
        // Deleting disposes the slot, which takes the name out of `names` (a Set may be changed while iterated).
        this.slots.delete(name);
      }
      this.windows.delete(window);
    }
    this.nextSweep = now + this.windowMs;
    return false;
  }

  /** The window (a tenth of the lifetime) an instant falls in, by its start. */
  private windowOf(at: number): number {
    return at - (at % this.windowMs);
  }

  private detach(slot: number): void {
    const attachment = this.attachedTo[slot];
    if (!attachment) return;
    this.attachedTo[slot] = undefined;
    this.attachedUnder.delete(attachment.under);
    this.attachedTotal -= attachment.bytes;
  }

  private compactOrder(): void {
    const live: number[] = [];
    for (let i = this.orderHead; i < this.order.length; i += 2) {
      if (this.attachedTo[this.order[i]]?.serial === this.order[i + 1]) live.push(this.order[i], this.order[i + 1]);
    }
    this.order = live;
    this.orderHead = 0;
  }

  private release(slot: number): void {
    this.slab.fill(0, slot * KEY_BYTES, (slot + 1) * KEY_BYTES);
    this.free[this.freeCount++] = slot;
  }
}
