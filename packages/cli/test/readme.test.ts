// The README's handlers module is type-checked as a user's editor would (it is loaded by the
// commands, not run on its own).
import { describeReadmeExamples } from "@pyrexis/test-utils/readme";

describeReadmeExamples(new URL("../README.md", import.meta.url));
