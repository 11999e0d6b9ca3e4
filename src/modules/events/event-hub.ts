import type { Principal } from "../../shared/auth/principal";
import type { Topology } from "../../shared/db/topology";
import { BadUserInputError, ForbiddenError } from "../../shared/errors";
import { loggableError, type Logger } from "../../shared/logging";
import type { EventType } from "./event-type";
import type { EventFeed } from "./event-feed";
import { mayReceive, maySubscribe } from "./event-visibility";
import { eventsById, type EventRow } from "./events.store";
import { toEvent, type Event } from "./events.types";

/** Events a subscriber has not taken yet; past this it is too slow, and its subscription ends. */
const MAX_QUEUED = 1000;

/** One subscription's events, as the async iterator graphql-js's subscribe reads; `return` frees it. */
class EventStream implements AsyncIterableIterator<Event> {
  private readonly queue: Event[] = [];
  private waiting: ((result: IteratorResult<Event>) => void) | null = null;
  private failed: Error | null = null;
  private done = false;

  constructor(
    readonly principal: Principal,
    readonly types: ReadonlySet<string> | null,
    private readonly release: (stream: EventStream) => void,
  ) {}

  push(event: Event): void {
    if (this.done) return;
    if (this.waiting) {
      const wake = this.waiting;
      this.waiting = null;
      wake({ value: event, done: false });
      return;
    }
    if (this.queue.length >= MAX_QUEUED) {
      this.failed = new Error("The subscriber did not keep up with its events: subscribe again.");
      this.finish();
      return;
    }
    this.queue.push(event);
  }

  next(): Promise<IteratorResult<Event>> {
    const event = this.queue.shift();
    if (event) return Promise.resolve({ value: event, done: false });
    if (this.failed) {
      const error = this.failed;
      this.failed = null;
      return Promise.reject(error);
    }
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => (this.waiting = resolve));
  }

  return(): Promise<IteratorResult<Event>> {
    this.finish();
    return Promise.resolve({ value: undefined, done: true });
  }

  /** Ends the stream: a waiting reader is told it is done; the hub forgets it. */
  finish(): void {
    if (this.done) return;
    this.done = true;
    this.queue.length = 0;
    this.release(this);
    const wake = this.waiting;
    this.waiting = null;
    wake?.({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

/**
 * Feeds GraphQL subscriptions from committed events (the feed's NOTIFY at commit, from any
 * instance): each event's row is read once, from the database it committed in, and pushed to the
 * subscribers the role table lets see it (mayReceive).
 */
export class EventHub {
  private readonly streams = new Set<EventStream>();
  /** Ids announced since the last read, per database: read together. */
  private readonly announced = new Map<string, string[]>();
  private scheduled = false;
  private unlisten: (() => void) | null = null;

  constructor(
    private readonly topology: Topology,
    private readonly feed: EventFeed,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.unlisten = this.feed.on((database, id) => {
      if (!this.streams.size) return;
      const ids = this.announced.get(database) ?? [];
      ids.push(id);
      this.announced.set(database, ids);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.deliver());
      }
    });
  }

  /** The caller's events from now on, of `types` (all when null). */
  subscribe(principal: Principal, types: readonly EventType[] | null | undefined): AsyncIterableIterator<Event> {
    if (!maySubscribe(principal)) throw new ForbiddenError("Your role receives no events.");
    // An empty list would read as "all types" to some clients and "none" to others: neither is assumed.
    if (types && !types.length) throw new BadUserInputError("types", "Name at least one event type, or omit `types` for all of them.");
    const stream = new EventStream(principal, types ? new Set(types) : null, (s) => this.streams.delete(s));
    this.streams.add(stream);
    return stream;
  }

  get subscribers(): number {
    return this.streams.size;
  }

  private async deliver(): Promise<void> {
    this.scheduled = false;
    const batches = [...this.announced];
    this.announced.clear();
    for (const [name, ids] of batches) {
      const db = this.topology.database(name);
      if (!db) continue;
      let rows: EventRow[];
      try {
        rows = await eventsById(db.maintenance.manager, ids);
      } catch (error) {
        this.log.warn({ database: name, error: loggableError(error) }, "events for subscribers could not be read");
        continue;
      }
      rows.sort((a, b) => new Date(a.occurredAt).getTime() - new Date(b.occurredAt).getTime());
      for (const row of rows) {
        const event = toEvent({ ...row, occurredAt: new Date(row.occurredAt) });
        for (const stream of this.streams) {
          if ((stream.types === null || stream.types.has(row.type)) && mayReceive(stream.principal, row)) stream.push(event);
        }
      }
    }
  }

  /** Ends every subscription (shutdown). */
  stop(): void {
    this.unlisten?.();
    for (const stream of [...this.streams]) stream.finish();
  }
}
