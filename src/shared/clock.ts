/**
 * The service clock. Every rule that compares times asks this clock and passes the instant
 * into its queries as a parameter, never the database's now(), so a test clock moves time
 * for the whole service at once.
 */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** Follows the system clock until `set` freezes it at an instant; `reset` follows again. */
export class SettableClock implements Clock {
  private fixed: Date | null = null;

  now(): Date {
    return this.fixed ? new Date(this.fixed.getTime()) : new Date();
  }

  set(instant: Date): Date {
    this.fixed = new Date(instant.getTime());
    return this.now();
  }

  reset(): void {
    this.fixed = null;
  }
}
