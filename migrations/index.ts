import { Foundation1763700000000 } from "./1763700000000-Foundation";

/** Every migration, in order. Listed explicitly so a stale compiled file can never run. */
export const migrations = [Foundation1763700000000];
