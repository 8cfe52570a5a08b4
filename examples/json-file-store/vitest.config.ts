import { defineProject } from "vitest/config";

export default defineProject({
  test: { name: "example-json-file-store", include: ["test/**/*.test.ts"] },
});
