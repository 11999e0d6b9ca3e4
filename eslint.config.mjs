// Lint: typed rules from typescript-eslint, formatting left to Prettier (`npm run lint` runs both,
// and the import boundaries: scripts/check-boundaries.ts).
import eslint from "@eslint/js";
import prettier from "eslint-config-prettier";
import tseslint from "typescript-eslint";

export default tseslint.config(
  {
    ignores: [
      "eslint.config.mjs",
      "scripts/build.mjs",
      "scripts/bench-deps.mjs",
      "bench/node_modules/**",
      "dist/**",
      "node_modules/**",
      "bench/postgraphile/**",
      "bench/results/**",
      ".data/**",
    ],
  },
  eslint.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      "@typescript-eslint/consistent-type-imports": ["error", { fixStyle: "inline-type-imports" }],
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/await-thenable": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", destructuredArrayIgnorePattern: "^_" }],
      // Decorated classes are type-graphql's: their constructor parameters are the wiring.
      "@typescript-eslint/no-unsafe-function-type": "error",
    },
  },
  {
    // Tests, benches and drills read GraphQL answers, untyped JSON, as `any`.
    files: ["test/**/*.ts", "bench/**/*.ts", "drill/**/*.ts"],
    rules: { "@typescript-eslint/no-explicit-any": "off" },
  },
  {
    // node:test's describe and it return promises the runner itself awaits.
    files: ["test/**/*.ts"],
    rules: { "@typescript-eslint/no-floating-promises": "off" },
  },
  prettier,
);
