// Builds the UI into dist/ui (index.html, app.js, app.css): esbuild bundles ui/main.ts with
// Preact, htm and uPlot into one minified module; the styles and uPlot's are joined into one
// file. Run by the package's `build`; the published package ships the result, so nothing is
// built at run time.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { build } from "esbuild";

const here = new URL("../", import.meta.url);
const out = new URL("dist/ui/", here);
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [new URL("ui/main.ts", here).pathname],
  outfile: new URL("app.js", out).pathname,
  bundle: true,
  format: "esm",
  minify: true,
  target: "es2022",
  legalComments: "eof",
  logLevel: "warning",
});
const uplotCss = readFileSync(new URL("node_modules/uplot/dist/uPlot.min.css", here), "utf8");
writeFileSync(new URL("app.css", out), `${uplotCss}\n${readFileSync(new URL("ui/styles.css", here), "utf8")}`);
copyFileSync(new URL("ui/index.html", here), new URL("index.html", out));
