import { randomBytes } from "node:crypto";
import type { RequestHandler } from "express";
import { ruruHTML, type RuruServerConfig } from "ruru/server";
import { serveStatic } from "ruru/static";

/** Where Ruru's own files are served from: this service, never a CDN. */
const STATIC_PATH = "/graphql-explorer/";

/** The README's first queries, as the explorer's starting document. */
const DEFAULT_QUERY = `# Paste a token that \`npm start\` printed into the Headers tab below:
#   { "Authorization": "Bearer <token>" }
# then run a query (Ctrl-Enter). Every read is authorized and audited as it is over curl.

{
  viewer { role tenantId }
  storageLocations { code dataCenterCountries }
  tenants(first: 10) {
    totalCount
    nodes { id name storageLocation { code } retentionPolicy { deletionGraceDays auditLogRetentionDays } }
  }
}
`;

/**
 * The Content-Security-Policy of the explorer page: everything from this origin, inline scripts
 * only with the page's nonce. Styles may be inline (the page and its editor set style attributes).
 */
function contentSecurityPolicy(nonce: string): string {
  return [
    "default-src 'self'",
    `script-src 'self' 'nonce-${nonce}'`,
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    "worker-src 'self'",
    "connect-src 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'none'",
  ].join("; ");
}

/** Every <script> of the page carries the nonce. */
const withNonce = (nonce: string) => (html: string) => html.replaceAll("<script", `<script nonce="${nonce}"`);

/**
 * GraphiQL (Ruru, whose assets ship in its npm package) at GET /graphql for a browser: a page
 * asking for HTML without a query. Its assets come from this service, so it works with the network
 * cut. API requests (POST, or GET with a query) go on to the API, CSRF prevention included.
 */
export function explorer(endpoint: string): { page: RequestHandler; assets: ReturnType<typeof serveStatic> } {
  const page: RequestHandler = (req, res, next) => {
    // A browser: GET, no query, and HTML preferred over JSON.
    if (req.method !== "GET" || req.query.query !== undefined || req.accepts(["json", "html"]) !== "html") return next();
    const nonce = randomBytes(16).toString("base64");
    const html = ruruHTML({
      endpoint,
      staticPath: STATIC_PATH,
      // ruru-types marks every prop as required; the client takes these few.
      clientConfig: {
        defaultQuery: DEFAULT_QUERY,
        isHeadersEditorEnabled: true,
        initialHeaders: JSON.stringify({ Authorization: "Bearer <paste a token here>" }, null, 2),
      } as RuruServerConfig["clientConfig"],
      htmlParts: {
        titleTag: "<title>Custodian GraphQL explorer</title>",
        configScript: withNonce(nonce),
        headerScripts: withNonce(nonce),
        bodyScripts: withNonce(nonce),
        bodyInitScript: withNonce(nonce),
      },
    });
    res
      .status(200)
      .setHeader("content-type", "text/html; charset=utf-8")
      .setHeader("content-security-policy", contentSecurityPolicy(nonce))
      .setHeader("cache-control", "no-store")
      .setHeader("x-content-type-options", "nosniff")
      .end(html);
  };
  return { page, assets: serveStatic(STATIC_PATH) };
}
