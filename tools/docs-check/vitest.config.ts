import { defineProject } from "vitest/config";

export default defineProject({
  test: { name: "docs-check", include: ["test/**/*.test.ts"], testTimeout: 30_000 },
});
