// PostGraphile 5 over the bench database, for `npm run bench` only. It needs Node 22 or later:
// the bench starts it with the `node` package of bench/package.json (bench/node_modules/node/bin/node),
// never with the Node that runs Custodian. It logs in as custodian_app, and each connection carries the
// operator's signed scope (OperatorPool, from dist/): the same row-level security Custodian
// works under.
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { postgraphile } from "postgraphile";
import { makePgService } from "postgraphile/adaptors/pg";
import { grafserv } from "postgraphile/grafserv/node";
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { jsonPgSmartTags } from "postgraphile/utils";

// A record's tenant key is part of composite keys only (with its location, with its subject),
// so PostGraphile offers no tenant -> records connection; this tag describes the plain one.
const RecordsOfTenant = jsonPgSmartTags({
  version: 1,
  config: {
    class: {
      personal_data_record: {
        tags: { foreignKey: "(tenant_id) references tenant (id)|@fieldName tenant|@foreignFieldName personalDataRecords" },
      },
    },
  },
});

const require = createRequire(import.meta.url);
const { OperatorPool } = require("../../dist/bench/operator-pool.js");
const pool = await OperatorPool.open(process.env.DATABASE_URL);

const port = Number(process.env.PORT);
const preset = {
  extends: [PostGraphileAmberPreset],
  plugins: [RecordsOfTenant],
  pgServices: [makePgService({ pool, schemas: ["public"] })],
  grafast: { explain: false },
  grafserv: { graphiql: false, watch: false },
};

const pgl = postgraphile(preset);
const serv = pgl.createServ(grafserv);
const server = createServer();
serv.addTo(server);
server.listen(port, "127.0.0.1", () => process.send?.("ready") ?? console.log(`postgraphile on ${port}`));
const stop = () => server.close(() => pgl.release().then(() => process.exit(0)));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
