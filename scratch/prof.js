const fs = require("fs");
const dir = "/tmp/prof";
const files = fs.readdirSync(dir).map((f) => [f, fs.statSync(dir + "/" + f).size]).sort((a, b) => b[1] - a[1]);
const p = JSON.parse(fs.readFileSync(dir + "/" + files[0][0]));
const self = new Map(); const byId = new Map(p.nodes.map((n) => [n.id, n]));
const dt = p.timeDeltas; let total = 0;
const hits = new Map();
p.samples.forEach((s, i) => { hits.set(s, (hits.get(s) || 0) + (dt[i] || 0)); total += dt[i] || 0; });
for (const [id, t] of hits) { const n = byId.get(id); const cf = n.callFrame; const key = `${cf.functionName || "(anon)"} ${cf.url.replace(/.*node_modules\//, "").replace("file:///work/main/", "")}:${cf.lineNumber}`; self.set(key, (self.get(key) || 0) + t); }
const pkg = new Map();
for (const [id, t] of hits) { const u = byId.get(id).callFrame.url; const m = u.match(/node_modules\/((@[^/]+\/)?[^/]+)/); const k = m ? m[1] : (u.includes("/dist/") ? "custodian" : (u || byId.get(id).callFrame.functionName)); pkg.set(k, (pkg.get(k) || 0) + t); }
console.log("total ms", (total / 1000).toFixed(0));
console.log([...pkg].sort((a, b) => b[1] - a[1]).slice(0, 15).map(([k, t]) => `${(100 * t / total).toFixed(1)}% ${k}`).join("\n"));
console.log("---");
console.log([...self].sort((a, b) => b[1] - a[1]).slice(0, 25).map(([k, t]) => `${(100 * t / total).toFixed(1)}% ${k}`).join("\n"));
