import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { featureCycles, findings, importsOf, tablesNamed } from "../../scripts/boundaries";

describe("import and table boundaries (pure)", () => {
  it("resolves relative imports to repository paths", () => {
    const file = {
      path: "src/modules/sharing/sharing.service.ts",
      text: `import { a } from "../tenant/tenant.service";\nimport type { B } from "./sharing.types";\nimport "../audit/audited";\nimport x from "typeorm";`,
    };
    assert.deepEqual(importsOf(file).sort(), ["src/modules/audit/audited", "src/modules/sharing/sharing.types", "src/modules/tenant/tenant.service"]);
  });

  it("finds tables named in SQL and through their entities, and nothing else", () => {
    assert.deepEqual(tablesNamed("SELECT * FROM personal_data_record r JOIN data_subject s ON true").sort(), ["data_subject", "personal_data_record"]);
    assert.deepEqual(tablesNamed("em.getRepository(TenantEntity)"), ["tenant"]);
    assert.deepEqual(tablesNamed("manager.getMetadata(StorageLocation)"), ["storage_location"]);
    // A GraphQL field typed by an entity reads nothing.
    assert.deepEqual(tablesNamed("@FieldResolver(() => StorageLocation) location(): StorageLocation"), []);
    assert.deepEqual(tablesNamed("the tenant of a record, from the form"), []);
  });

  it("finds every loop between features once", () => {
    const edges = new Map([
      ["a", new Set(["b"])],
      ["b", new Set(["a", "c"])],
      ["c", new Set(["a"])],
    ]);
    assert.deepEqual(featureCycles(edges), [
      ["a", "b"],
      ["a", "b", "c"],
    ]);
  });

  it("flags a shared file importing a feature, a feature naming another's table, and a new cycle; not a feature's own table", () => {
    const files = [
      { path: "src/shared/db/helper.ts", text: `import { x } from "../../modules/audit/audit.service";` },
      { path: "src/modules/sharing/sharing.store.ts", text: "SELECT id FROM sharing_agreement; SELECT id FROM third_party" },
      { path: "src/modules/tenant/tenant.service.ts", text: `import { y } from "../audit/audit.service";` },
      { path: "src/modules/audit/audit.service.ts", text: `import { z } from "../tenant/tenant.service";` },
    ];
    assert.deepEqual(findings(files), [
      "feature-cycle audit -> tenant",
      "foreign-table src/modules/sharing/sharing.store.ts -> third_party (third-party)",
      "shared-imports-feature src/shared/db/helper.ts -> src/modules/audit/audit.service",
    ]);
  });

  it("flags a feature's own table reached outside its store, in SQL or through a repository", () => {
    const files = [
      { path: "src/modules/sharing/sharing.store.ts", text: "SELECT id FROM sharing_agreement" },
      { path: "src/modules/sharing/sharing.service.ts", text: "UPDATE sharing_agreement SET status = $1" },
      { path: "src/modules/tenant/tenant.service.ts", text: "em.getRepository(TenantEntity).find()" },
      { path: "src/demo.ts", text: "INSERT INTO data_subject (id) VALUES ($1)" },
    ];
    assert.deepEqual(findings(files), [
      "sql-outside-store src/demo.ts -> data_subject",
      "sql-outside-store src/modules/sharing/sharing.service.ts -> sharing_agreement",
      "sql-outside-store src/modules/tenant/tenant.service.ts -> tenant",
    ]);
  });
});
