import { Client } from "pg";
import type { Topology } from "../../shared/db/topology";
import { loggableError, type Logger } from "../../shared/logging";

/** The channel the event table's trigger notifies at commit, with the event's id. */
export const EVENTS_CHANNEL = "custodian_events";

export type FeedListener = (database: string, eventId: string) => void;

/**
 * Committed events as they commit, from every database of the topology: one LISTEN connection
 * per database (PostgreSQL sends a NOTIFY only at commit, so a rolled-back event never arrives;
 * an event committed through any instance reaches every instance). A connection that fails is
 * opened again on the next `refresh`; what was missed meanwhile, the dispatcher's poll finds.
 */
export class EventFeed {
  private readonly clients = new Map<string, Client>();
  private readonly listeners = new Set<FeedListener>();
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly topology: Topology,
    private readonly log: Logger,
    private readonly refreshMs = 2000,
  ) {}

  on(listener: FeedListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.refreshMs);
    this.timer.unref();
  }

  /** Listens on every open database not listened to yet (a region added or back since). */
  async refresh(): Promise<void> {
    await Promise.all(
      this.topology.all
        .filter((db) => !this.clients.has(db.name))
        .map(async (db) => {
          const client = new Client({ connectionString: db.url, connectionTimeoutMillis: this.topology.connectTimeoutMs });
          this.clients.set(db.name, client);
          const drop = () => {
            if (this.clients.get(db.name) === client) this.clients.delete(db.name);
            void client.end().catch(() => undefined);
          };
          client.on("error", (error) => {
            if (!this.stopped)
              this.log.warn({ database: db.name, error: loggableError(error) }, "the event feed lost its database connection; listening again shortly");
            drop();
          });
          client.on("notification", (message) => {
            if (message.channel !== EVENTS_CHANNEL || !message.payload) return;
            for (const listener of this.listeners) listener(db.name, message.payload);
          });
          try {
            await client.connect();
            await client.query(`LISTEN ${EVENTS_CHANNEL}`);
            if (this.stopped) drop();
          } catch (error) {
            this.log.debug({ database: db.name, error: loggableError(error) }, "the event feed could not listen yet");
            drop();
          }
        }),
    );
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    const clients = [...this.clients.values()];
    this.clients.clear();
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  }
}
