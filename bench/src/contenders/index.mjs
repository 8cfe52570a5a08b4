// Every contender variant, in the order the tables list them.
import { variants as bullmq } from "./bullmq.mjs";
import { variants as graphile } from "./graphile-worker.mjs";
import { variants as pgBoss } from "./pg-boss.mjs";
import { variants as pQueue } from "./p-queue.mjs";
import { variants as pyrexis } from "./pyrexis.mjs";
import { variants as rawSqlite } from "./raw-sqlite.mjs";

/** @type {import("./common.mjs").Variant[]} */
export const variants = [...pyrexis, ...pQueue, ...bullmq, ...graphile, ...pgBoss, ...rawSqlite];

/** The variant with this id; a TypeError naming the known ones otherwise. @param {string} id */
export function findVariant(id) {
  const v = variants.find((x) => x.id === id);
  if (!v) throw new TypeError(`unknown contender "${id}"; known: ${variants.map((x) => x.id).join(", ")}`);
  return v;
}
