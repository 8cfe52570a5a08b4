import { defineProject } from "vitest/config";

export default defineProject({
  test: { name: "executors", include: ["test/**/*.test.ts"] },
});
