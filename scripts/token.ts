import { parseArgs } from "node:util";
import { loadConfig } from "../src/config";
import { signToken } from "../src/shared/auth/jwt";
import { principalFromClaims } from "../src/shared/auth/principal";
import { Role } from "../src/shared/auth/role";

const USAGE = `Prints a development token (HS256, signed with JWT_SECRET) and nothing else, so TOKEN=$(npm run -s token -- ...) works.

usage: npm run -s token -- --role ROLE [--tenant TENANT_ID] [--subject DATA_SUBJECT_ID] [--sub NAME] [--expires 12h]

  --role      ${Object.values(Role).join(", ")}
  --tenant    the tenant of a tenant role (TENANT_ADMIN, INTEGRATION, AUDITOR, DATA_SUBJECT)
  --subject   the data subject of a DATA_SUBJECT token
  --sub       the token's subject (default dev-<role>)
  --expires   lifetime, e.g. 30m, 12h, 7d (default 12h)
`;

/** npm run -s token -- --role TENANT_ADMIN --tenant <id> [--subject <dataSubjectId>] [--sub <name>] [--expires 12h] */
async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        role: { type: "string" },
        tenant: { type: "string" },
        subject: { type: "string" },
        sub: { type: "string" },
        expires: { type: "string", default: "12h" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const role = values.role as Role;
  const claims = { sub: values.sub ?? `dev-${String(role).toLowerCase()}`, role, tenantId: values.tenant, dataSubjectId: values.subject };
  try {
    principalFromClaims(Object.fromEntries(Object.entries(claims).filter(([, v]) => v !== undefined)));
  } catch (error) {
    console.error(`Cannot mint that token: ${(error as Error).message}. Roles: ${Object.values(Role).join(", ")}.`);
    process.exit(2);
  }
  const config = loadConfig();
  if (config.jwtPublicKey || config.jwtJwks) {
    console.error(`${config.jwtJwks ? "JWT_JWKS_URL" : "JWT_PUBLIC_KEY"} is set: tokens come from your identity provider, not from this script.`);
    process.exit(2);
  }
  const token = await signToken(
    { subject: claims.sub, role, tenantId: values.tenant, dataSubjectId: values.subject, expiresIn: values.expires },
    { secret: config.jwtSecret, issuer: config.jwtIssuer, audience: config.jwtAudience },
  );
  console.log(token);
}

void main();
