import "reflect-metadata";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, it } from "node:test";
import { graphql } from "graphql";
import { buildSchema, Field, Mutation, ObjectType, Query, Resolver } from "type-graphql";
import { DataSource } from "typeorm";
import type { RequestContext } from "../../src/context";
import type { RequestSession } from "../../src/shared/db/session";
import { LoaderCache } from "../../src/shared/loaders";
import { AuditService } from "../../src/modules/audit/audit.service";
import { guardFields } from "../../src/root-field.guard";
import { Allow } from "../../src/shared/auth/allow";
import { Role } from "../../src/shared/auth/role";
import { systemClock } from "../../src/shared/clock";
import { createLogger } from "../../src/shared/logging";
import { principals } from "../helpers/app";

@ObjectType({ simpleResolvers: true, description: "Plain fields, one of them narrowed to a role." })
class Plain {
  @Field({ description: "Open to whoever reads the parent." })
  open!: string;

  @Field({ description: "Auditors only, though the type is simple." })
  @Allow(Role.AUDITOR)
  narrowed!: string;
}

@Resolver()
class Careless {
  @Query(() => Plain, { description: "A parent for the plain fields." })
  @Allow(Role.OPERATOR, Role.AUDITOR)
  plain(): Plain {
    return { open: "o", narrowed: "n" };
  }

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
  const context = (principal = principals.operator()): RequestContext =>
    ({
      requestId: randomUUID(),
      session: { checkpoint: async () => undefined, close: async () => undefined } as unknown as RequestSession,
      principal,
      clock: systemClock,
      db: new DataSource({ type: "postgres" }),
      maintenance: new DataSource({ type: "postgres" }),
      tx: null,
      loaders: new LoaderCache(),
      log: createLogger("silent"),
      audit: {},
    }) as unknown as RequestContext;

  it("refuses to resolve a Query field that declares no roles, and a Mutation without an audit action", async () => {
    const schema = guardFields(await buildSchema({ resolvers: [Careless] }), new AuditService());
    const open = await graphql({ schema, source: "{ open }", contextValue: context() });
    assert.equal(open.data, null);
    assert.match(String(open.errors?.[0].message), /declares no roles/);
    const unaudited = await graphql({ schema, source: "mutation { unaudited }", contextValue: context() });
    assert.match(String(unaudited.errors?.[0].message), /declares no audit action/);
    assert.equal((await graphql({ schema, source: "{ guarded }", contextValue: context() })).data?.guarded, "ok");
    const partner = await graphql({ schema, source: "{ guarded }", contextValue: context(principals.partner()) });
    assert.equal(partner.errors?.[0].extensions.code, "FORBIDDEN");
  });

  it("guards a field that declares roles on a type with simple resolvers, and leaves its plain fields alone", async () => {
    const schema = guardFields(await buildSchema({ resolvers: [Careless] }), new AuditService());
    const operator = await graphql({ schema, source: "{ plain { open narrowed } }", contextValue: context() });
    assert.equal(operator.errors?.[0].extensions.code, "FORBIDDEN");
    assert.deepEqual(operator.errors?.[0].path, ["plain", "narrowed"]);
    const auditor = await graphql({ schema, source: "{ plain { open narrowed } }", contextValue: context(principals.auditor(randomUUID())) });
    assert.deepEqual(JSON.parse(JSON.stringify(auditor.data)), { plain: { open: "o", narrowed: "n" } });
    assert.equal(
      schema.getType("Plain") && (schema.getType("Plain") as { getFields(): Record<string, { resolve?: unknown }> }).getFields().open.resolve,
      undefined,
    );
  });
});
