import { BadUserInputError, DomainError, ErrorCode } from "../../shared/errors";

/** Third parties' refusals, with their messages. */
export const PartyErrors = {
  /** `extensions`: where the id was given (its field, and a batch item's index). */
  unknown: (extensions: Record<string, unknown>) => new DomainError(ErrorCode.NOT_FOUND, "No third party with that id is registered.", extensions),
  nameTaken: () => new BadUserInputError("name", "A third party with this name is already registered."),
  onlyAgentsListed: () => new BadUserInputError("thirdPartyId", "Only an AGENT can be on the subprocessor list; INDEPENDENT parties need consent instead."),
};
