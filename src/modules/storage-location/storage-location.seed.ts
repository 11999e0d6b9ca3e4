/** The geographies every installation offers (DOMAIN rule 1), with their data-centre countries. */
export const STORAGE_LOCATIONS: ReadonlyArray<{ code: string; name: string; dataCenterCountries: string[] }> = [
  { code: "EU", name: "European Union", dataCenterCountries: ["AT", "FI", "FR", "IE", "NL"] },
  { code: "US", name: "United States", dataCenterCountries: ["US"] },
  { code: "UK", name: "United Kingdom", dataCenterCountries: ["GB"] },
  { code: "APAC", name: "Asia Pacific", dataCenterCountries: ["HK", "JP", "KR", "MY", "SG"] },
];
