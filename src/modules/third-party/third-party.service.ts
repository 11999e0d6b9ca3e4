import { randomUUID } from "node:crypto";
import { EventType } from "../events/event-type";
import { emit, emitOn } from "../events/outbox";
import { liveTenantIds } from "../tenant/tenant.store";
import type { RequestContext } from "../../context";
import { everyRegion, onControl, principalOf } from "../../context";
import { em, pgErrorCode, PG_UNIQUE_VIOLATION } from "../../shared/db/database";
import { NotFoundError } from "../../shared/errors";
import { isUuid } from "../../shared/ids";
import { byKeyLoader } from "../../shared/loaders";
import type { AuditService } from "../audit/audit.service";
import { auditTarget } from "../../shared/audit/audit-draft";
import type { PartyAgreements } from "./party-agreements";
import { ThirdPartyEntity } from "./third-party.entity";
import {
  insertParty,
  listChangesSince,
  listedSubprocessors,
  partiesByIds,
  copyParties,
  partiesByName,
  partyHeld,
  recordListingChange,
  subprocessorListHead,
} from "./third-party.store";
import { ThirdParty, ThirdPartyRole, SubprocessorList, SubprocessorListChange, type RegisterThirdPartyInput } from "./third-party.types";
import { PartyErrors } from "./third-party.errors";

export function toThirdParty(e: ThirdPartyEntity): ThirdParty {
  return Object.assign(new ThirdParty(), {
    id: e.id,
    name: e.name,
    role: e.role,
    listedAsSubprocessor: e.listedAsSubprocessor,
    dataSharingProhibited: e.dataSharingProhibited,
    country: e.country,
    description: e.description,
  });
}

/** Third parties by id (reference data: every role may read them). */
export function thirdPartyLoader(ctx: RequestContext) {
  return byKeyLoader(
    (ids) => partiesByIds(em(ctx), ids),
    (p) => p.id,
    toThirdParty,
  );
}

/** The registry and the subprocessor list (DOMAIN rules 15 and 20). */
export class ThirdPartyService {
  constructor(
    private readonly audit: AuditService,
    private readonly agreements: PartyAgreements,
  ) {}

  list(ctx: RequestContext, role: ThirdPartyRole | null | undefined): Promise<ThirdParty[]> {
    return partiesByName(em(ctx), role).then((rows) => rows.map(toThirdParty));
  }

  /**
   * A party read in the mutation's transaction and held (FOR SHARE) until it ends, so a change of
   * its listing waits for the agreement or share that read it.
   */
  async held(ctx: RequestContext, id: string): Promise<ThirdPartyEntity | null> {
    if (!isUuid(id)) return null;
    return partyHeld(em(ctx), id.toLowerCase(), "share");
  }

  /** The parties among `ids` (lower-case uuids): the registry is open to every role (`thirdParties`). */
  async reachable(ctx: RequestContext, ids: readonly string[]): Promise<ThirdParty[]> {
    return (await Promise.all(ids.map((id) => this.byId(ctx, id)))).filter((party): party is ThirdParty => party !== null);
  }

  byId(ctx: RequestContext, id: string): Promise<ThirdParty | null> {
    return isUuid(id) ? ctx.loaders.get(ctx, thirdPartyLoader).load(id.toLowerCase()) : Promise.resolve(null);
  }

  async register(ctx: RequestContext, input: RegisterThirdPartyInput): Promise<ThirdParty> {
    const now = ctx.clock.now();
    const party = Object.assign(new ThirdPartyEntity(), {
      id: randomUUID(),
      name: input.name.trim(),
      role: input.role,
      listedAsSubprocessor: false,
      dataSharingProhibited: input.dataSharingProhibited ?? false,
      country: input.country ?? null,
      description: input.description ?? null,
      createdAt: now,
      updatedAt: now,
    });
    try {
      await insertParty(em(ctx), party);
    } catch (error) {
      if (pgErrorCode(error) === PG_UNIQUE_VIOLATION) throw PartyErrors.nameTaken();
      throw error;
    }
    // Every region holds a copy of the registry, for its agreements and records to name.
    for (const region of await everyRegion(ctx)) await copyParties(em(ctx), em(region), [party.id]);
    auditTarget(ctx, {
      tenantId: null,
      targetType: "ThirdParty",
      targetId: party.id,
      details: { role: party.role, dataSharingProhibited: party.dataSharingProhibited },
    });
    return toThirdParty(party);
  }

  async subprocessorList(request: RequestContext): Promise<SubprocessorList> {
    // The list and its history live in control.
    const ctx = await onControl(request);
    const head = await subprocessorListHead(em(ctx));
    const entries = await listedSubprocessors(em(ctx));
    return Object.assign(new SubprocessorList(), { version: head.version, updatedAt: head.updatedAt, entries: entries.map(toThirdParty) });
  }

  async history(request: RequestContext, sinceVersion: number | null | undefined): Promise<SubprocessorListChange[]> {
    const ctx = await onControl(request);
    return (await listChangesSince(em(ctx), sinceVersion ?? 0)).map((change) => Object.assign(new SubprocessorListChange(), change));
  }

  /**
   * DOMAIN rules 17 and 20: a listing change bumps the list's version and is kept; delisting
   * suspends the agent's ACTIVE agreements, relisting re-activates its SUSPENDED ones (never
   * REVOKED). The list's head row serialises changes; the agreement updates serialise with
   * shares, which hold their agreement shared.
   */
  async setListing(request: RequestContext, thirdPartyId: string, listed: boolean): Promise<ThirdParty> {
    const ctx = await onControl(request);
    const party = isUuid(thirdPartyId) ? await partyHeld(em(ctx), thirdPartyId.toLowerCase(), "update") : null;
    if (!party) throw new NotFoundError("third party");
    auditTarget(ctx, { tenantId: null, targetType: "ThirdParty", targetId: party.id });
    if (party.role !== ThirdPartyRole.AGENT) {
      throw PartyErrors.onlyAgentsListed();
    }
    if (party.listedAsSubprocessor === listed) {
      auditTarget(ctx, { details: { listed, changed: false } });
      return toThirdParty(party);
    }
    const now = ctx.clock.now();
    const version = await recordListingChange(em(ctx), party.id, listed, now, principalOf(ctx).subject);
    // Every region takes the change in the same unit of work (each region's copy of the party and
    // its agreements there); a region that cannot be reached refuses the change, nothing changes.
    let agreementsChanged = 0;
    for (const region of await everyRegion(ctx)) {
      await copyParties(em(ctx), em(region), [party.id]);
      agreementsChanged += await this.moveAgreements(region, party.id, listed, now, version);
      // Every tenant of the region is told, each with an event of its own.
      const data = { thirdPartyId: party.id, listed, subprocessorListVersion: version };
      await emitOn(
        em(region),
        (await liveTenantIds(em(region))).map((tenantId) => ({ tenantId, type: EventType.SUBPROCESSOR_LIST_CHANGED, occurredAt: now, data })),
      );
    }
    auditTarget(ctx, { details: { listed, changed: true, subprocessorListVersion: version, agreementsChanged } });
    return toThirdParty(Object.assign(party, { listedAsSubprocessor: listed }));
  }

  /** One region's agreements with the party follow its listing; each tenant's log shows its own, and why. */
  private async moveAgreements(ctx: RequestContext, partyId: string, listed: boolean, now: Date, version: number): Promise<number> {
    const changed = listed
      ? await this.agreements.moveStatus(ctx, partyId, "SUSPENDED", "ACTIVE", now)
      : await this.agreements.moveStatus(ctx, partyId, "ACTIVE", "SUSPENDED", now);
    for (const agreement of changed) {
      if (!listed) {
        await emit(ctx, agreement.tenantId, EventType.SHARING_AGREEMENT_SUSPENDED, { agreementId: agreement.id, thirdPartyId: partyId, status: "SUSPENDED" });
      }
      await this.audit.append(em(ctx), {
        tenantId: agreement.tenantId,
        occurredAt: now,
        actor: principalOf(ctx),
        action: listed ? "AGREEMENT_REACTIVATED" : "AGREEMENT_SUSPENDED",
        targetType: "SharingAgreement",
        targetId: agreement.id,
        outcome: "ALLOWED",
        details: { thirdPartyId: partyId, subprocessorListVersion: version },
        requestId: ctx.requestId,
      });
    }
    return changed.length;
  }
}
