/**
 * The pure part of audit-log verification (DOMAIN rule 27). The database recomputes each
 * entry's hash with the same SQL function that wrote it; this walks the chain in order and
 * names the first entry that does not fit: an edited entry fails its own hash, a removed entry
 * breaks the link of the one after it, a reordered pair fails both.
 */

export const GENESIS_HASH = "0".repeat(64);
/** The chain key of entries without a tenant (operator actions on reference data). */
export const OPERATOR_CHAIN = "00000000-0000-0000-0000-000000000000";

export interface ChainHead {
  /** Where the retained chain starts: the last purged entry (0 and GENESIS_HASH before any purge). */
  anchorSeq: number;
  anchorHash: string;
  /** The newest entry the writer linked. */
  lastSeq: number;
  lastHash: string;
}

export interface ChainLink {
  id: string;
  seq: number;
  prevHash: string;
  hash: string;
  /** The hash the database computes now over the entry's stored content. */
  recomputedHash: string;
  /** For an AUDIT_LOG_PURGED entry: the anchor that purge left. */
  purgeAnchor?: { seq: number; hash: string } | null;
}

/** A signed checkpoint's claim: the entry at `seq` has `hash` (its signature already checked). */
export interface CheckpointClaim {
  seq: number;
  hash: string;
}

export interface ChainProblem {
  /** The first entry that does not fit; null when entries are missing at the end. */
  entryId: string | null;
  reason: string;
}

/** Verifies one page of a chain; `expected` is where the previous page ended. */
export class ChainVerifier {
  private seq: number;
  private hash: string;
  checked = 0;
  problem: ChainProblem | null = null;
  private lastPurgeAnchor: { seq: number; hash: string } | null = null;
  /** True when the walk starts at the anchor (every retained entry), false when at a checkpoint. */
  private readonly fromAnchor: boolean;

  /**
   * `start`: where the walk begins when not at the anchor, i.e. just before a checkpoint's entry
   * (its seq minus one, and the hash that entry links to); `checkpoint`: the newest signed one.
   */
  constructor(
    private readonly head: ChainHead,
    private readonly checkpoint: CheckpointClaim | null = null,
    start: { seq: number; hash: string } | null = null,
  ) {
    this.fromAnchor = !start;
    this.seq = start?.seq ?? head.anchorSeq;
    this.hash = start?.hash ?? head.anchorHash;
  }

  /** Feeds the next links in chain order; returns false once a problem is found. */
  feed(links: readonly ChainLink[]): boolean {
    for (const link of links) {
      if (this.problem) return false;
      this.checked += 1;
      if (link.hash !== link.recomputedHash) {
        this.problem = { entryId: link.id, reason: "the entry's content does not match its hash (edited)" };
      } else if (link.seq !== this.seq + 1 || link.prevHash !== this.hash) {
        this.problem = { entryId: link.id, reason: "the entry does not follow the one before it (an entry was removed, inserted or moved)" };
      }
      if (!this.problem && this.checkpoint?.seq === link.seq && link.hash !== this.checkpoint.hash) {
        this.problem = { entryId: link.id, reason: "the entry differs from the signed checkpoint of its position (the chain was rewritten)" };
      }
      if (link.purgeAnchor) this.lastPurgeAnchor = link.purgeAnchor;
      this.seq = link.seq;
      this.hash = link.hash;
    }
    return !this.problem;
  }

  /**
   * After the last page: the chain must end where its writer says it ends, and a chain that
   * starts after a purge must start where the newest purge entry says the purge left it, so
   * removing the oldest entries and moving the anchor by hand is found too.
   */
  finish(): ChainProblem | null {
    if (this.problem) return this.problem;
    const checkpoint = this.checkpoint;
    if (checkpoint && checkpoint.seq > this.head.lastSeq) {
      this.problem = { entryId: null, reason: "the chain ends before its newest signed checkpoint (the newest entries were removed)" };
    } else if (checkpoint && checkpoint.seq === this.head.anchorSeq && checkpoint.hash !== this.head.anchorHash) {
      this.problem = { entryId: null, reason: "the chain's start differs from the signed checkpoint of its position (the chain was rewritten)" };
    } else if (this.seq !== this.head.lastSeq || this.hash !== this.head.lastHash) {
      this.problem = { entryId: null, reason: "the newest entries are missing (the chain ends before its head)" };
    } else if (
      this.fromAnchor &&
      this.head.anchorSeq > 0 &&
      (this.lastPurgeAnchor?.seq !== this.head.anchorSeq || this.lastPurgeAnchor?.hash !== this.head.anchorHash)
    ) {
      this.problem = { entryId: null, reason: "the chain starts where no retention purge left it (the oldest entries were removed)" };
    }
    return this.problem;
  }
}
