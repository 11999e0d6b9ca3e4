import { Arg, Resolver, Root, Subscription } from "type-graphql";
import { EventType } from "./event-type";
import { Event } from "./events.types";

/** What a subscription's context offers (the WebSocket server makes it from the socket's principal). */
export interface EventSubscriptionContext {
  subscribeEvents(types: readonly EventType[] | null | undefined): AsyncIterable<Event>;
}

@Resolver(() => Event)
export class EventSubscriptionResolver {
  @Subscription(() => Event, {
    description: "Committed events visible to the caller from now on (who sees which: see the events work's role table).",
    subscribe: ({ args, context }) => (context as EventSubscriptionContext).subscribeEvents((args as { types?: EventType[] | null }).types),
  })
  events(
    @Root() event: Event,
    @Arg("types", () => [EventType], { nullable: true, description: "Only these types (all when omitted)." }) _types: EventType[] | null,
  ): Event {
    return event;
  }
}
