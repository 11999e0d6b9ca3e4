const autocannon = require("/work/main/node_modules/autocannon");
const token = require("fs").readFileSync("/tmp/op-token", "utf8");
const Q = `{ tenants(first: 20) { nodes { id name storageLocation { code name } personalDataRecords(first: 20) { totalCount nodes { id category status subject { id status } } } } } }`;
(async () => {
  const headers = { "content-type": "application/json", authorization: `Bearer ${token}` };
  const body = JSON.stringify({ query: Q });
  const r = await autocannon({ url: "http://127.0.0.1:6001/graphql", method: "POST", connections: 20, duration: Number(process.argv[2] || 3), requests: [{ setupRequest: (req) => ({ ...req, headers, body }) }] });
  console.log(r.requests.total, r.latency.p50, r.latency.p99, r.errors, r.non2xx, r.timeouts);
  const t = Date.now();
  const res = await fetch("http://127.0.0.1:6001/graphql", { method: "POST", headers, body });
  console.log(res.status, Date.now() - t, "ms");
})();
