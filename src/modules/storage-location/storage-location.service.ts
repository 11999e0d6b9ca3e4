import type { DataSource } from "typeorm";
import { onLocation, type RequestContext } from "../../context";
import { byKeyLoader } from "../../shared/loaders";
import { em, pgErrorCode, PG_UNIQUE_VIOLATION } from "../../shared/db/database";
import { allLocations, copyLocations, insertLocation, insertLocationIfMissing, locationsByCode } from "./storage-location.store";
import { auditTarget } from "../../shared/audit/audit-draft";
import { StorageLocation } from "./storage-location.entity";
import type { CreateStorageLocationInput } from "./storage-location.inputs";
import { STORAGE_LOCATIONS } from "./storage-location.seed";
import { LocationErrors } from "./storage-location.errors";

/** Per-request loader of locations by code (keys are global reference data, not tenant data). */
export function storageLocationLoader(ctx: RequestContext) {
  return byKeyLoader(
    (codes) => locationsByCode(em(ctx), codes),
    (l) => l.code,
    (l) => l,
  );
}

export class StorageLocationService {
  list(ctx: RequestContext): Promise<StorageLocation[]> {
    return allLocations(em(ctx));
  }

  /** This request's loader, e.g. to prime it with locations a joined query brought along. */
  loader(ctx: RequestContext) {
    return ctx.loaders.get(ctx, storageLocationLoader);
  }

  byCode(ctx: RequestContext, code: string): Promise<StorageLocation | null> {
    return ctx.loaders.get(ctx, storageLocationLoader).load(code);
  }

  /** Operators add geographies; a code is never reused, so a duplicate is refused. */
  async create(ctx: RequestContext, input: CreateStorageLocationInput): Promise<StorageLocation> {
    const location = Object.assign(new StorageLocation(), {
      code: input.code,
      name: input.name,
      dataCenterCountries: input.dataCenterCountries,
      createdAt: ctx.clock.now(),
    });
    try {
      await insertLocation(em(ctx), location);
    } catch (error) {
      if (pgErrorCode(error) === PG_UNIQUE_VIOLATION) {
        throw LocationErrors.codeTaken(input.code);
      }
      throw error;
    }
    auditTarget(ctx, { targetType: "StorageLocation", targetId: location.code, tenantId: null });
    // Its own database: created and migrated now (outside the transaction: CREATE DATABASE cannot
    // run in one), then given the reference rows in this unit of work, the new location included.
    await ctx.topology.addRegion(location.code);
    await copyLocations(em(ctx), em(await onLocation(ctx, location.code)));
    return location;
  }
}

/** Idempotent: adds the standard geographies that are missing, changes none that exist. */
export async function seedStorageLocations(db: DataSource, now: Date): Promise<void> {
  for (const l of STORAGE_LOCATIONS) await insertLocationIfMissing(db.manager, l, now);
}
