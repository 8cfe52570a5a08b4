import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import { createDashboard, MIN_TOKEN_LENGTH } from "@pyrexis/dashboard";
import { UsageError } from "../errors.js";
import type { CliIo } from "../io.js";
import { openExistingStore, resolveStorePath } from "../store.js";

/** Options of `pyrexis dashboard`. */
export interface DashboardCommandOptions {
  store?: string | undefined;
  port?: number | undefined;
  host?: string | undefined;
  readOnly?: boolean | undefined;
  tokenFile?: string | undefined;
}

/** The token: read from `--token-file`, or made up and written to a fresh file only this user can read. */
async function tokenOf(options: DashboardCommandOptions, io: CliIo): Promise<{ token: string; file: string; generated: boolean }> {
  if (options.tokenFile !== undefined) {
    const file = isAbsolute(options.tokenFile) ? options.tokenFile : resolve(io.cwd, options.tokenFile);
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (e) {
      throw new UsageError(`--token-file ${options.tokenFile}: ${(e as Error).message}`);
    }
    const token = text.trim();
    if (token.length < MIN_TOKEN_LENGTH || /\s/.test(token)) {
      throw new UsageError(
        `--token-file ${options.tokenFile}: the token must be one line of at least ${MIN_TOKEN_LENGTH} characters without spaces`,
      );
    }
    return { token, file, generated: false };
  }
  const dir = await mkdtemp(join(tmpdir(), "pyrexis-dashboard-"));
  const file = join(dir, "token");
  const token = randomBytes(24).toString("base64url");
  await writeFile(file, `${token}\n`, { mode: 0o600 });
  return { token, file, generated: true };
}

/**
 * `pyrexis dashboard`: serves the web dashboard over the store until SIGINT/SIGTERM. Bound to
 * 127.0.0.1 unless `--host` says otherwise; actions need the access token, which never appears in
 * output: it is read from `--token-file`, or generated into a file whose path is printed (and
 * removed on exit).
 */
export async function dashboardCommand(options: DashboardCommandOptions, io: CliIo): Promise<number> {
  const path = resolveStorePath(options.store, io);
  const store = await openExistingStore(path);
  let token: { token: string; file: string; generated: boolean } | undefined;
  try {
    token = await tokenOf(options, io);
    const dashboard = createDashboard({
      store,
      token: token.token,
      readOnly: options.readOnly === true,
      host: options.host ?? "127.0.0.1",
      port: options.port ?? 7300,
    });
    let url: string;
    try {
      url = await dashboard.listen();
    } catch (e) {
      throw new UsageError(`cannot listen on ${options.host ?? "127.0.0.1"}:${options.port ?? 7300}: ${(e as Error).message}`);
    }
    io.stdout.write(`pyrexis dashboard on ${url} (store ${path}${options.readOnly ? ", read-only" : ""})\n`);
    io.stdout.write(`access token: in ${token.file}${token.generated ? " (made for this run, removed on exit)" : ""}\n`);
    await new Promise<void>((resolve) => {
      const stop = (): void => {
        process.off("SIGINT", stop);
        process.off("SIGTERM", stop);
        resolve();
      };
      process.on("SIGINT", stop);
      process.on("SIGTERM", stop);
    });
    await dashboard.close();
    io.stdout.write("pyrexis dashboard stopped\n");
    return 0;
  } finally {
    await store.close();
    if (token?.generated) await rm(join(token.file, ".."), { recursive: true, force: true });
  }
}
