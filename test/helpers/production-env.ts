/** What a production configuration needs for its keys besides the rest: a master key and a key store on a server of its own. */
export const PRODUCTION_KEY_ENV = {
  MASTER_KEY: Buffer.alloc(32, 1).toString("base64"),
  KEYSTORE_DATABASE_URL: "postgres://custodian@keys.internal:5432/custodian_keys",
} as const;
