// The README's example is compiled and run as a user would; its printed lines are its claims.
import { expect } from "vitest";
import { describeReadmeExamples } from "@pyrexis/test-utils/readme";

describeReadmeExamples(new URL("../README.md", import.meta.url), {
  expectOutput: {
    "example.ts": ({ stdout }) => {
      expect(stdout).toContain(`{ 'job.completed{mode="thread"}': 1, 'job.retries': 1 }`);
      expect(stdout).toMatch(
        /\{\n {2}count: 2,\n {2}sum: [\d.]+,\n {2}avg: [\d.]+,\n {2}min: [\d.]+,\n {2}max: 42\.5,\n {2}p50: [\d.]+,\n {2}p95: [\d.]+,\n {2}p99: [\d.]+\n\}/,
      );
      expect(stdout).toContain('# TYPE pyrexis_job_completed_total counter\npyrexis_job_completed_total{mode="thread"} 1\n');
      expect(stdout).toContain("# TYPE pyrexis_job_execution_seconds summary\n");
      expect(stdout).toContain('pyrexis_job_execution_seconds{mode="async",quantile="0.5"} ');
      expect(stdout.trimEnd().split("\n").at(-1)).toBe("95232");
    },
  },
});
