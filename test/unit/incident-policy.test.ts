import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isOverdue, notificationDeadline, requireStep, withinDeadline } from "../../src/modules/incident/incident-policy";
import { isGdprClockStart } from "../../src/shared/gdpr";
import { IncidentStatus as S } from "../../src/modules/incident/incident.types";

const detected = new Date("2035-01-01T00:00:00.000Z");
const plus = (ms: number) => new Date(detected.getTime() + ms);
const H72 = 72 * 3_600_000;

describe("incident policy (rules 22, 23, 25, pure)", () => {
  it("puts the deadline 72 hours after detection, inclusive", () => {
    assert.equal(notificationDeadline(detected).toISOString(), "2035-01-04T00:00:00.000Z");
    assert.equal(withinDeadline(plus(H72), detected), true);
    assert.equal(withinDeadline(plus(H72 + 1), detected), false);
  });

  it("takes a detection time from the GDPR's first day up to now (the shared GDPR clock's rule)", () => {
    assert.equal(isGdprClockStart(detected, detected), true);
    assert.equal(isGdprClockStart(new Date("2018-05-25T00:00:00.000Z"), detected), true);
    assert.equal(isGdprClockStart(new Date("2018-05-24T23:59:59.999Z"), detected), false, "before the GDPR applied");
    assert.equal(isGdprClockStart(new Date("0001-01-01T00:00:00.000Z"), detected), false);
    assert.equal(isGdprClockStart(plus(1), detected), false, "in the future");
    assert.equal(isGdprClockStart(new Date(NaN), detected), false);
  });

  it("is overdue only after the deadline and while a tenant waits", () => {
    assert.equal(isOverdue(plus(H72), detected, 1), false);
    assert.equal(isOverdue(plus(H72 + 1), detected, 1), true);
    assert.equal(isOverdue(plus(H72 + 1), detected, 0), false);
  });

  it("allows only the lifecycle's steps", () => {
    const code = (status: S, step: Parameters<typeof requireStep>[1]) => {
      try {
        requireStep(status, step);
        return "ok";
      } catch (e) {
        return (e as { extensions: { code: string } }).extensions.code;
      }
    };
    assert.deepEqual(
      [S.INVESTIGATING, S.CUSTOMER_REPORTABLE, S.DISMISSED, S.RESOLVED].map((s) => [
        code(s, "declare"),
        code(s, "dismiss"),
        code(s, "resolve"),
        code(s, "addTenants"),
      ]),
      [
        ["ok", "ok", "INVALID_STATE", "ok"],
        ["INVALID_STATE", "INVALID_STATE", "ok", "ok"],
        ["INVALID_STATE", "INVALID_STATE", "INVALID_STATE", "INVALID_STATE"],
        ["INVALID_STATE", "INVALID_STATE", "INVALID_STATE", "INVALID_STATE"],
      ],
    );
  });
});
