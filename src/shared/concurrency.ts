import { DomainError, ErrorCode } from "./errors";

/**
 * At most `limit` of one kind of heavy work at once in this process; more are refused with
 * RATE_LIMITED, retryable, instead of queueing work that holds memory or a connection.
 */
export class Concurrency {
  private running = 0;

  constructor(
    private readonly limit: number,
    private readonly what: string,
  ) {}

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) {
      throw new DomainError(ErrorCode.RATE_LIMITED, `${this.limit} ${this.what} are running; retry in a few seconds.`, { retryAfterSeconds: 5 });
    }
    this.running += 1;
    try {
      return await work();
    } finally {
      this.running -= 1;
    }
  }
}
