import { parseArgs } from "node:util";
import { loadConfig } from "../src/config";
import { signToken } from "../src/shared/auth/jwt";
import { principalFromClaims } from "../src/shared/auth/principal";
import { Role } from "../src/shared/auth/role";

/** npm run token -- --role TENANT_ADMIN --tenant <id> [--subject <dataSubjectId>] [--sub <name>] [--expires 12h] */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      role: { type: "string" },
      tenant: { type: "string" },
      subject: { type: "string" },
      sub: { type: "string" },
      expires: { type: "string", default: "12h" },
    },
  });
  const role = values.role as Role;
  const claims = { sub: values.sub ?? `dev-${String(role).toLowerCase()}`, role, tenantId: values.tenant, dataSubjectId: values.subject };
  try {
    principalFromClaims(Object.fromEntries(Object.entries(claims).filter(([, v]) => v !== undefined)));
  } catch (error) {
    console.error(`Cannot mint that token: ${(error as Error).message}. Roles: ${Object.values(Role).join(", ")}.`);
    process.exit(2);
  }
  const config = loadConfig();
  if (config.jwtPublicKey) {
    console.error("JWT_PUBLIC_KEY is set: tokens are RS256 and come from your identity provider, not from this script.");
    process.exit(2);
  }
  const token = await signToken(
    { subject: claims.sub, role, tenantId: values.tenant, dataSubjectId: values.subject, expiresIn: values.expires },
    { secret: config.jwtSecret, issuer: config.jwtIssuer, audience: config.jwtAudience },
  );
  console.log(token);
}

void main();
