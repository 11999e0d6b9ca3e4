import type { EntityManager } from "typeorm";
import { EventType } from "../events/event-type";
import { emitOn } from "../events/outbox";
import { SubjectRequestStatus } from "./subject-request-policy";
import { markDeadlines } from "./subject-request.store";
import { requestEventData } from "./subject-request.service";

/**
 * DOMAIN rule 33, for a region's maintenance run (in `manager`'s transaction): raises
 * `subject_request.due_soon` for OPEN requests seven days or less from their due date and
 * `subject_request.overdue` for those past it, each once per due date (the mark and the event
 * commit together). A dry run counts. Returns how many events it raised (or would).
 */
export async function raiseRequestDeadlines(manager: EntityManager, now: Date, dryRun: boolean): Promise<number> {
  let raised = 0;
  for (const [which, type] of [
    ["soon", EventType.SUBJECT_REQUEST_DUE_SOON],
    ["overdue", EventType.SUBJECT_REQUEST_OVERDUE],
  ] as const) {
    const hits = await markDeadlines(manager, which, now, dryRun);
    raised += hits.length;
    if (dryRun || !hits.length) continue;
    await emitOn(
      manager,
      hits.map((h) => ({
        tenantId: h.tenant_id,
        type,
        occurredAt: now,
        data: requestEventData({ id: h.id, dataSubjectId: h.data_subject_id, kind: h.kind as never, status: SubjectRequestStatus.OPEN, dueAt: h.due_at }),
      })),
    );
  }
  return raised;
}
