import type { DataSourceOptions } from "../ormconfig";
import { seedStorageLocations } from "./modules/storage-location/storage-location.service";
import { copyLocations, locationCodes, locationsByCode } from "./modules/storage-location/storage-location.store";
import { AuditService } from "./modules/audit/audit.service";
import { repairNotificationEntries } from "./modules/incident/notification-entries";
import { allTenantIds, reconcileDirectory, tenantLocations } from "./modules/tenant/tenant.store";
import { copyParties } from "./modules/third-party/third-party.store";
import { DatabaseUnavailableError, MisconfiguredDatabaseError, Topology, type Database } from "./shared/db/topology";
import { loggableError, type Logger } from "./shared/logging";
import { keystoreLocation, sharesServer, type KeystoreSettings } from "./modules/keys/key-config";

export interface DatabasesOptions {
  controlUrl: string;
  regionUrls?: Readonly<Record<string, string>>;
  appUrl?: string;
  pool?: DataSourceOptions;
  log: Logger;
  now: Date;
  /** Told which migrations a database just applied. */
  onMigrated?: (database: string, applied: string[]) => void;
  /** Where the regions' key stores are (default: development, beside each region's database). */
  keystore?: KeystoreSettings;
}

/**
 * A region joins the service: control's reference rows (storage locations, third parties) are
 * copied into it; control's tenant directory is repaired from its tenant rows (a crash between a
 * region's commit and control's left control behind); and its tenants' chains get the entries of
 * breach notifications control committed but a crash kept from them. Runs when the region's
 * database opens (at start, when it comes back after an outage, when its location is created)
 * and after each retention run on it.
 */
export async function prepareRegion(region: Database, control: Database, log?: Logger): Promise<void> {
  const [ours, theirs] = [control.maintenance.manager, region.maintenance.manager];
  await copyLocations(ours, theirs);
  await copyParties(ours, theirs);
  const repaired = await reconcileDirectory(theirs, ours);
  if (repaired) log?.warn({ location: region.name, tenants: repaired }, "the tenant directory was behind a region: repaired");
  const entries = await repairNotificationEntries(new AuditService(), ours, theirs, await allTenantIds(theirs));
  if (entries) log?.warn({ location: region.name, entries }, "breach notifications lacked their audit entries in a region: written");
}

/**
 * Opens control (migrated, storage locations seeded) and every location's region database
 * (created when missing, migrated, prepared), the regions side by side. A region that cannot be
 * opened is logged and retried on first use: its tenants wait for it, nobody else does.
 */
export async function openDatabases(options: DatabasesOptions): Promise<Topology> {
  const topology = await Topology.open({
    controlUrl: options.controlUrl,
    regionUrls: options.regionUrls,
    appUrl: options.appUrl,
    pool: options.pool,
    directory: (control, ids) => tenantLocations(control.manager, ids),
    locationExists: async (control, code) => (await locationsByCode(control.manager, [code])).length > 0,
    prepareRegion: (region, control) => prepareRegion(region, control, options.log),
    onMigrated: options.onMigrated,
    keystore: (code, regionUrl) => {
      const settings = options.keystore ?? { production: false };
      const location = keystoreLocation(settings, code, regionUrl);
      if (sharesServer(settings, code, regionUrl) && !settings.urls?.[code]) {
        options.log.warn({ location: code }, "the key store is on the same server as its data (development): set KEYSTORE_DATABASE_URL to another server");
      }
      return location;
    },
  });
  try {
    await seedStorageLocations(topology.control.owner, options.now);
    const codes = await locationCodes(topology.control.maintenance.manager);
    // Every region settles before a misconfigured one fails the start: none is left opening.
    const outcomes = await Promise.allSettled(codes.map((code) => topology.addRegion(code)));
    outcomes.forEach((outcome, i) => {
      if (outcome.status === "fulfilled") return;
      if (outcome.reason instanceof MisconfiguredDatabaseError) throw outcome.reason;
      // Which of the location's databases failed, and why (the cause a key store's failure wraps).
      const named = outcome.reason instanceof DatabaseUnavailableError ? outcome.reason : null;
      options.log.error(
        { location: codes[i], error: loggableError(named?.cause ?? outcome.reason) },
        `a region's ${named?.part ?? "database"} could not be opened; its tenants are unavailable until it is`,
      );
    });
  } catch (error) {
    await topology.close();
    throw error;
  }
  return topology;
}
