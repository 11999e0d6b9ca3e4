import type { DataSource } from "typeorm";
import type { RequestContext } from "../../context";

/** The key store of the region the context is on (control has none: it holds no personal data). */
export function keystoreOf(ctx: RequestContext): DataSource {
  const keystore = ctx.topology.database(ctx.database)?.keystore;
  if (!keystore) throw new Error(`the ${ctx.database} database has no key store`);
  return keystore;
}
