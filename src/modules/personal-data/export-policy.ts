import { Role } from "../../shared/auth/role";
import { BadUserInputError } from "../../shared/errors";

/**
 * A request reference: an identifier (a ticket number, a SubjectRequest id), never prose. It is
 * kept in the audit entry, which never holds free text a user typed: it could name a person.
 */
export const REQUEST_REFERENCE = /^[A-Za-z0-9][A-Za-z0-9._:/#-]{0,99}$/;

/**
 * Who may export a person's data, and on what (DOMAIN rules 12 and 14): the person, whose own
 * export is their request; or the tenant's administrator, only on that person's request, whose
 * reference is recorded with the export. SUBJECT_ACCESS is the person's right: an administrator
 * uses it on their behalf, never on its own account. Returns the reference to record (null for
 * the person); throws BAD_USER_INPUT naming `onRequest` otherwise.
 */
export function exportRequest(role: Role, onRequest: string | null | undefined): string | null {
  if (role === Role.DATA_SUBJECT) {
    if (onRequest != null) throw new BadUserInputError("onRequest", "`onRequest` is for administrators: your own export is your request.");
    return null;
  }
  if (onRequest == null || onRequest === "") {
    throw new BadUserInputError("onRequest", "An administrator exports a person's data only on that person's request: give its reference in `onRequest`.");
  }
  if (!REQUEST_REFERENCE.test(onRequest)) {
    throw new BadUserInputError(
      "onRequest",
      "`onRequest` is a reference of 1 to 100 letters, digits and . _ : / # - (a ticket number, a request id), starting with a letter or digit.",
    );
  }
  return onRequest;
}
