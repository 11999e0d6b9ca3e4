import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { printContractSchema } from "../src/schema";

/** Writes schema/schema.graphql: sorted, without test-only fields. A test fails when it is stale. */
void printContractSchema().then((sdl) => {
  const file = join(__dirname, "..", "..", "schema", "schema.graphql");
  writeFileSync(file, sdl);
  console.log(`wrote ${file}`);
});
