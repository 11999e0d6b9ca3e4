import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ProcessingPurpose as P } from "../../src/modules/purpose/processing-purpose";
import { declaredPurposes, isProhibited } from "../../src/modules/purpose/purpose-policy";
import { codeOf } from "../helpers/assertions";

const code = codeOf;

describe("purpose policy (rule 11, pure)", () => {
  it("needs one purpose, refuses prohibited ones first, never takes SUBJECT_ACCESS, and dedupes", () => {
    assert.equal(
      code(() => declaredPurposes([], "p")),
      "BAD_USER_INPUT",
    );
    assert.equal(
      code(() => declaredPurposes([P.SUPPORT, P.MARKETING], "p")),
      "PURPOSE_PROHIBITED",
    );
    assert.equal(
      code(() => declaredPurposes([P.PROFILING], "p")),
      "PURPOSE_PROHIBITED",
    );
    assert.equal(
      code(() => declaredPurposes([P.SUBJECT_ACCESS, P.SUPPORT], "p")),
      "BAD_USER_INPUT",
    );
    assert.deepEqual(declaredPurposes([P.SECURITY, P.SUPPORT, P.SECURITY], "p"), [P.SUPPORT, P.SECURITY]);
  });
});

describe("prohibited purposes (rule 11, pure)", () => {
  it("are profiling and marketing, and only those", () => {
    assert.deepEqual(Object.values(P).filter(isProhibited), [P.PROFILING, P.MARKETING]);
  });
});
