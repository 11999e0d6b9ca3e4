import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { chromium, type Browser } from "playwright-core";
import { loadConfig } from "../../src/config";
import { type TestApp, principals, startTestApp } from "../helpers/app";
import { PRODUCTION_KEY_ENV } from "../helpers/production-env";

/** @any-server: a browser on the explorer's page; the suite's server only answers one query. */

/** Debian's chromium (.ci/run installs it when missing): the test runs in CI, never skips. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
/** Where the test leaves its screenshot (a CI artefact; docs/explorer.png is one of them). */
export const ARTIFACTS = join(__dirname, "..", "..", "..", "test-artifacts");

describe("the explorer in a real browser, offline", () => {
  let app: TestApp;
  let browser: Browser;
  before(async () => {
    assert.ok(existsSync(CHROMIUM), `no browser at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
    app = await startTestApp({ config: { explorer: true } });
    // As root, Chromium's sandbox cannot start; the page is our own.
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  });
  after(async () => {
    await browser?.close();
    await app?.close();
  });

  it("serves GraphiQL from the service itself; with every other request blocked, a pasted token runs { viewer { role } }", async () => {
    const origin = new URL(app.server.url).origin;
    const page = await browser.newPage();
    const elsewhere: string[] = [];
    const violations: string[] = [];
    // The network is cut: anything not for this service is refused, and noted.
    await page.route("**/*", (route) => {
      const url = route.request().url();
      if (url.startsWith(origin) || url.startsWith("data:") || url.startsWith("blob:")) return route.continue();
      elsewhere.push(url);
      return route.abort();
    });
    page.on("console", (message) => {
      if (/Content.Security.Policy|Refused to/i.test(message.text())) violations.push(message.text());
    });

    const response = await page.goto(app.server.url, { waitUntil: "load" });
    assert.equal(response?.status(), 200);
    const csp = response?.headers()["content-security-policy"] ?? "";
    assert.match(csp, /script-src 'self' 'nonce-[^']+'/);
    assert.doesNotMatch(csp, /script-src[^;]*unsafe-inline/);
    assert.doesNotMatch(csp, /https?:\/\//, "the policy names no other origin");

    // The query editor holds the README's first query; the Headers tab takes the token.
    await page.locator(".graphiql-query-editor .monaco-editor").first().waitFor({ timeout: 30_000 });
    const token = await app.token(principals.operator());
    const headersTab = page.getByRole("button", { name: /^headers$/i });
    if (!/\bactive\b/.test((await headersTab.getAttribute("class")) ?? "")) await headersTab.click();
    const headers = page.locator("section.graphiql-editor-tool[aria-label='Headers'] .graphiql-editor:not(.hidden) .monaco-editor");
    /** Replaces an editor's text as a paste would; what the editor closed on its own after it goes. */
    const paste = async (editor: ReturnType<typeof page.locator>, text: string) => {
      await editor.click();
      await page.keyboard.press("ControlOrMeta+A");
      await page.keyboard.press("Delete");
      await page.keyboard.insertText(text);
      await page.keyboard.press("Shift+ControlOrMeta+End");
      await page.keyboard.press("Delete");
    };
    await paste(headers, JSON.stringify({ Authorization: `Bearer ${token}` }));
    await paste(page.locator(".graphiql-query-editor .monaco-editor").first(), "{ viewer { role } }");
    await page.locator(".graphiql-execute-button").click();
    const result = page.locator(".result-window");
    try {
      await result.getByText('"OPERATOR"').waitFor({ timeout: 30_000 });
    } finally {
      await mkdir(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, "explorer.png") });
    }
    assert.match((await result.innerText()).replace(/\s+/g, " "), /"viewer": \{ "role": "OPERATOR" \}/);

    assert.deepEqual(elsewhere, [], "no request left for another origin");
    assert.deepEqual(violations, [], "nothing was refused by the page's policy");
  });

  it("keeps CSRF prevention on for the API, and answers a client that asks for JSON as the API", async () => {
    const token = await app.token(principals.operator());
    const simpleGet = await fetch(`${app.server.url}?query=${encodeURIComponent("{ viewer { role } }")}`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(simpleGet.status, 400, "a GET without a preflight header is refused");
    const json = await fetch(app.server.url, { headers: { accept: "application/json" } });
    assert.notEqual(json.headers.get("content-type")?.startsWith("text/html"), true);
  });

  it("is on in development and off in production unless EXPLORER=on; when off, GET /graphql serves no page", async () => {
    const auditKey = String(generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }));
    const production = { NODE_ENV: "production", JWT_SECRET: "x".repeat(32), AUDIT_SIGNING_KEY: auditKey, ...PRODUCTION_KEY_ENV };
    assert.equal(loadConfig({}).explorer, true);
    assert.equal(loadConfig(production).explorer, false);
    assert.equal(loadConfig({ ...production, EXPLORER: "on" }).explorer, true);
    const off = await startTestApp({ production: true, config: { explorer: loadConfig(production).explorer } });
    try {
      const page = await fetch(off.server.url, { headers: { accept: "text/html" } });
      assert.notEqual(page.headers.get("content-type")?.startsWith("text/html"), true);
      assert.equal((await fetch(`${new URL(off.server.url).origin}/graphql-explorer/ruru.js`)).status, 404);
    } finally {
      await off.close();
    }
  });
});
