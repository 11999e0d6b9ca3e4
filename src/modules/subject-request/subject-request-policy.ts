import { BadUserInputError, DomainError, ErrorCode } from "../../shared/errors";
import { isGdprClockStart } from "../../shared/gdpr";

/** What a data subject asks for (GDPR Art. 15-17, 20). */
export enum SubjectRequestKind {
  ACCESS = "ACCESS",
  RECTIFICATION = "RECTIFICATION",
  ERASURE = "ERASURE",
  PORTABILITY = "PORTABILITY",
}

export enum SubjectRequestStatus {
  OPEN = "OPEN",
  AWAITING_IDENTITY = "AWAITING_IDENTITY",
  COMPLETED = "COMPLETED",
  REJECTED = "REJECTED",
}

/** The months an answer is due in (Art. 12(3)): one, or three once extended. */
export const ANSWER_MONTHS = 1;
export const EXTENDED_MONTHS = 3;
/** `subject_request.due_soon` is raised this long before the due date. */
export const DUE_SOON_MS = 7 * 24 * 3_600_000;
/** Reasons a subject reads (extension, rejection): at most this long. */
export const MAX_REASON_LENGTH = 2000;

const DAY_MS = 24 * 3_600_000;

/**
 * The end of a period of `months` months that starts at `start` (DOMAIN rule 29, Regulation
 * 1182/71 as Art. 12(3) counts it): the UTC calendar date of the start, the same date `months`
 * later (the month's last day when it has no such date), moved to the following Monday when it
 * is a Saturday or Sunday; the period ends at the last millisecond of that day (UTC).
 */
export function periodEnd(start: Date, months: number): Date {
  const year = start.getUTCFullYear();
  const month = start.getUTCMonth() + months;
  const lastDay = utcDate(year, month + 1, 0).getUTCDate();
  const due = utcDate(year, month, Math.min(start.getUTCDate(), lastDay));
  const weekday = due.getUTCDay();
  const shift = weekday === 6 ? 2 : weekday === 0 ? 1 : 0;
  return new Date(due.getTime() + shift * DAY_MS + DAY_MS - 1);
}

/** Midnight UTC of a date; months and days past their range roll over. (Date.UTC reads years 0-99 as 1900-1999.) */
function utcDate(year: number, month: number, day: number): Date {
  const date = new Date(0);
  date.setUTCFullYear(year, month, day);
  return date;
}

/** The state of a request the rules look at. */
export interface RequestState {
  status: SubjectRequestStatus;
  clockStartedAt: Date | null;
  dueAt: Date | null;
  originalDueAt: Date | null;
  identityRequestedAt: Date | null;
}

/** The clock of a request that starts (or starts anew) at `at`: due in one month, not extended. */
export function clockFrom(at: Date): Pick<RequestState, "clockStartedAt" | "dueAt" | "originalDueAt"> & { extensionReason: null } {
  return { clockStartedAt: at, dueAt: periodEnd(at, ANSWER_MONTHS), originalDueAt: null, extensionReason: null };
}

/** Due date passed and still OPEN. */
export function isOverdue(now: Date, state: Pick<RequestState, "status" | "dueAt">): boolean {
  return state.status === SubjectRequestStatus.OPEN && state.dueAt !== null && now.getTime() > state.dueAt.getTime();
}

function invalid(message: string): DomainError {
  return new DomainError(ErrorCode.INVALID_STATE, message);
}

/** A reason the subject will read: trimmed, 1..2000 characters, else BAD_USER_INPUT. */
export function requireReason(reason: string, what: string): string {
  const trimmed = reason.trim();
  if (trimmed.length === 0 || trimmed.length > MAX_REASON_LENGTH) {
    throw new BadUserInputError("reason", `Give the reason for ${what} that the data subject will read (1..${MAX_REASON_LENGTH} characters).`);
  }
  return trimmed;
}

/** A receipt time an administrator gives: never in the future, never before the GDPR applied. */
export function requireReceipt(receivedAt: Date, now: Date): Date {
  if (!isGdprClockStart(receivedAt, now)) {
    throw new BadUserInputError(
      "receivedAt",
      "receivedAt is when the request reached the tenant: it cannot be in the future, nor before the GDPR applied (2018-05-25).",
    );
  }
  return receivedAt;
}

/** DOMAIN rule 30: one extension, while OPEN and not past the due date; due three months from the clock's start. */
export function extend(now: Date, state: RequestState): Pick<RequestState, "dueAt" | "originalDueAt"> {
  if (state.status !== SubjectRequestStatus.OPEN || !state.dueAt || !state.clockStartedAt) {
    throw invalid(`A request that is ${state.status} cannot be extended; only an OPEN request can.`);
  }
  if (state.originalDueAt) throw invalid("This request was extended already: Art. 12(3) allows one extension.");
  if (now.getTime() > state.dueAt.getTime()) throw invalid("The due date has passed: a request can only be extended before it.");
  return { dueAt: periodEnd(state.clockStartedAt, EXTENDED_MONTHS), originalDueAt: state.dueAt };
}

/** DOMAIN rule 31: proof of identity is asked for once, while OPEN and not past the due date; the clock stops. */
export function askIdentity(now: Date, state: RequestState): void {
  if (state.status !== SubjectRequestStatus.OPEN || !state.dueAt) {
    throw invalid(`A request that is ${state.status} cannot ask for proof of identity; only an OPEN request can.`);
  }
  if (state.identityRequestedAt) throw invalid("Proof of identity was asked for once already.");
  if (now.getTime() > state.dueAt.getTime()) throw invalid("The due date has passed: proof of identity can only be asked for before it.");
}

/** Confirming identity restarts the clock; only while AWAITING_IDENTITY. */
export function requireAwaitingIdentity(state: RequestState): void {
  if (state.status !== SubjectRequestStatus.AWAITING_IDENTITY) {
    throw invalid(`A request that is ${state.status} is not awaiting proof of identity.`);
  }
}

/** Completion is from OPEN only (a request awaiting identity has no running clock to answer within). */
export function requireCompletable(state: RequestState): void {
  if (state.status !== SubjectRequestStatus.OPEN) {
    throw invalid(
      state.status === SubjectRequestStatus.AWAITING_IDENTITY
        ? "Confirm the subject's identity before completing the request."
        : `A request that is ${state.status} cannot be completed.`,
    );
  }
}

/**
 * DOMAIN rule 32: ACCESS and PORTABILITY are answered with an export made at or after the clock's
 * start; once the subject is purged, nothing is held and there is nothing to export.
 */
export function requireExportSince(state: RequestState, lastExportAt: Date | null, subjectPurged: boolean): void {
  if (subjectPurged) return;
  if (!lastExportAt || !state.clockStartedAt || lastExportAt.getTime() < state.clockStartedAt.getTime()) {
    throw invalid("Export the subject's data (exportDataSubject) after the request's clock started, then complete it.");
  }
}

/**
 * A reason is written to the subject and sealed under its key: a purged subject has no key left
 * and no one to read it, so its request takes no reason and can only be completed.
 */
export function requireSubjectForReason(subjectPurged: boolean): void {
  if (subjectPurged) throw invalid("This request's data subject was purged: nothing about it is held any more, so complete the request instead.");
}

/** A rejection (Art. 12(4)), from OPEN or AWAITING_IDENTITY. */
export function requireRejectable(state: RequestState): void {
  if (state.status !== SubjectRequestStatus.OPEN && state.status !== SubjectRequestStatus.AWAITING_IDENTITY) {
    throw invalid(`A request that is ${state.status} cannot be rejected.`);
  }
}
