import { registerEnumType } from "type-graphql";

export enum DataSubjectStatus {
  ACTIVE = "ACTIVE",
  DELETED = "DELETED",
}

registerEnumType(DataSubjectStatus, {
  name: "DataSubjectStatus",
  description: "Whether a data subject's data is kept.",
  valuesConfig: {
    ACTIVE: { description: "The subject's data is kept and used for its purposes." },
    DELETED: { description: "Deleted by an administrator (active deletion); records pending purge." },
  },
});
