import { Role } from "../../shared/auth/role";

/** Roles that see data subjects and records (their metadata; values have their own rule). */
export const DATA_VIEWERS = [Role.OPERATOR, Role.TENANT_ADMIN, Role.INTEGRATION, Role.AUDITOR, Role.DATA_SUBJECT] as const;
