import type { Principal } from "../auth/principal";
import { Role } from "../auth/role";

/**
 * Who an audit entry names as its actor: the token's subject, except for a data subject. Its
 * token subject is its login at the identity provider (often an e-mail address), and entries
 * outlive the subject's purge (kept a year, append-only, in every backup): it is named by its
 * internal id instead, which says nothing once the subject is gone.
 */
export function auditActor(principal: Pick<Principal, "subject" | "role" | "dataSubjectId">): string {
  return principal.role === Role.DATA_SUBJECT && principal.dataSubjectId ? `data-subject:${principal.dataSubjectId}` : principal.subject;
}
