const { startApi, BENCH_SECRET } = require("/work/main/dist/bench/lib");
const { signToken } = require("/work/main/dist/src/shared/auth/jwt");
const { Role } = require("/work/main/dist/src/shared/auth/role");
const url = require("fs").readFileSync("/tmp/pgl-url", "utf8");
const Q = `{ tenants(first: 20) { nodes { id name storageLocation { code name } personalDataRecords(first: 20) { totalCount nodes { id category status subject { id status } } } } } }`;
(async () => {
  const api = await startApi(url, {}, 6001);
  const token = await signToken({ subject: "bench-operator", role: Role.OPERATOR }, BENCH_SECRET);
  const r = await fetch(api.url, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${token}` }, body: JSON.stringify({ query: Q }) });
  console.log((await r.text()).length);
  require("fs").writeFileSync("/tmp/op-token", token);
  await new Promise(() => {});
})();
