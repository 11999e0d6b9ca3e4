import "reflect-metadata";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, it } from "node:test";
import { graphql } from "graphql";
import { buildSchema, Mutation, Query, Resolver } from "type-graphql";
import { DataSource } from "typeorm";
import type { RequestContext } from "../src/context";
import type { RequestSession } from "../src/shared/db/session";
import { LoaderCache } from "../src/shared/loaders";
import { AuditService } from "../src/modules/audit/audit.service";
import { rootFieldGuard } from "../src/root-field.guard";
import { Allow } from "../src/shared/auth/allow";
import { Role } from "../src/shared/auth/role";
import { systemClock } from "../src/shared/clock";
import { createLogger } from "../src/shared/logging";
import { principals } from "./helpers/app";

@Resolver()
class Careless {
  @Query(() => String, { description: "Forgot its roles." })
  open(): string {
    return "secret";
  }

  @Query(() => String, { description: "Named its roles." })
  @Allow(Role.OPERATOR)
  guarded(): string {
    return "ok";
  }

  @Mutation(() => String, { description: "Named its roles but no audit action." })
  @Allow(Role.OPERATOR)
  unaudited(): string {
    return "changed";
  }
}

describe("root-field guard (fails closed)", () => {
  // A context that never reaches a database: these checks refuse before any query.
  const context = (principal = principals.operator()): RequestContext => ({
    requestId: randomUUID(),
    session: { checkpoint: async () => undefined, close: async () => undefined } as unknown as RequestSession,
    principal,
    clock: systemClock,
    db: new DataSource({ type: "postgres" }),
    tx: null,
    loaders: new LoaderCache(),
    log: createLogger("silent"),
    audit: {},
  });

  it("refuses to resolve a Query field that declares no roles, and a Mutation without an audit action", async () => {
    const schema = await buildSchema({ resolvers: [Careless], globalMiddlewares: [rootFieldGuard(new AuditService())] });
    const open = await graphql({ schema, source: "{ open }", contextValue: context() });
    assert.equal(open.data, null);
    assert.match(String(open.errors?.[0].message), /declares no roles/);
    const unaudited = await graphql({ schema, source: "mutation { unaudited }", contextValue: context() });
    assert.match(String(unaudited.errors?.[0].message), /declares no audit action/);
    assert.equal((await graphql({ schema, source: "{ guarded }", contextValue: context() })).data?.guarded, "ok");
    const partner = await graphql({ schema, source: "{ guarded }", contextValue: context(principals.partner()) });
    assert.equal(partner.errors?.[0].extensions.code, "FORBIDDEN");
  });
});
