import { Arg, Ctx, Mutation, Resolver } from "type-graphql";
import type { RequestContext } from "../../context";
import { Allow } from "../../shared/auth/allow";
import { Role } from "../../shared/auth/role";
import type { SettableClock } from "../../shared/clock";
import { auditTarget } from "../../shared/audit/audit-draft";
import { Audited } from "../../shared/audit/audited";

/** Only in schemas built with TEST_CLOCK=1 (never in production, never in schema.graphql). */
@Resolver()
export class TestClockResolver {
  constructor(private readonly clock: SettableClock) {}

  @Mutation(() => Date, { description: "Sets the service time for every rule (test installations only)." })
  @Allow(Role.OPERATOR)
  @Audited("TEST_CLOCK_SET")
  setTestClock(
    @Ctx() ctx: RequestContext,
    @Arg("now", () => Date, { description: "The instant the service clock shows from now on.", validate: false }) now: Date,
  ): Date {
    auditTarget(ctx, { tenantId: null, targetType: "ServiceClock" });
    return this.clock.set(now);
  }
}
