import { KeyStore1796400000000 } from "./1796400000000-KeyStore";
import { RecordKeysByTenant1796400000003 } from "./1796400000003-RecordKeysByTenant";
import { RetiredRecordKeys1796400000004 } from "./1796400000004-RetiredRecordKeys";
import { ShredEpoch1796400000006 } from "./1796400000006-ShredEpoch";
import { SubjectKeysUnderTheirKek1796400000009 } from "./1796400000009-SubjectKeysUnderTheirKek";

/** The key store's migrations, in order (a database of its own: see src/modules/keys). */
export const keystoreMigrations = [
  KeyStore1796400000000,
  RecordKeysByTenant1796400000003,
  RetiredRecordKeys1796400000004,
  ShredEpoch1796400000006,
  SubjectKeysUnderTheirKek1796400000009,
];
