import { RateLimiterMemory, RateLimiterRes } from "rate-limiter-flexible";
import type { Principal } from "./auth/principal";
import { DomainError, ErrorCode } from "./errors";

export class RateLimitedError extends DomainError {
  constructor(retryAfterSeconds: number) {
    super(ErrorCode.RATE_LIMITED, `Too many requests: retry after ${retryAfterSeconds} s.`, {
      retryAfterSeconds,
      http: { status: 429, headers: new Map([["retry-after", String(retryAfterSeconds)]]) },
    });
  }
}

/**
 * Requests per principal per minute (rate-limiter-flexible, in this process's memory: each
 * instance counts its own). Anonymous requests count per client address.
 */
export class RequestRateLimiter {
  private readonly limiter: RateLimiterMemory;

  constructor(perMinute: number) {
    this.limiter = new RateLimiterMemory({ points: perMinute, duration: 60 });
  }

  static keyOf(principal: Principal | null, clientAddress: string | undefined): string {
    return principal ? `${principal.role}:${principal.tenantId ?? "-"}:${principal.subject}` : `anonymous:${clientAddress ?? "unknown"}`;
  }

  async consume(key: string): Promise<void> {
    try {
      await this.limiter.consume(key);
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) throw new RateLimitedError(Math.max(1, Math.ceil(rejection.msBeforeNext / 1000)));
      throw rejection;
    }
  }
}
