import { BadUserInputError } from "../../shared/errors";

/** Storage locations' refusals, with their messages. */
export const LocationErrors = {
  codeTaken: (code: string) => new BadUserInputError("code", `Storage location ${code} already exists; choose another code.`),
  unknownCode: (field: string) => new BadUserInputError(field, "No storage location has that code; choose one listed by `storageLocations`."),
};
