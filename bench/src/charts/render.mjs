// The one module that touches the charting library: a Vega-Lite spec in, an SVG string out.
// Vega renders SVG headless (a "none" renderer view, then toSVG()), so Node needs no canvas and
// no browser; text widths are Vega's estimate without a canvas, hence the generous label limits.
import { parse, View } from "vega";
import { compile } from "vega-lite";

/**
 * Renders a Vega-Lite spec to a standalone SVG document.
 *
 * @example
 * ```js
 * const svg = await renderSvg({ data: { values: [{ a: "x", b: 3 }] }, mark: "bar", encoding: { x: { field: "b", type: "quantitative" }, y: { field: "a", type: "nominal" } } });
 * ```
 * @param {Record<string, unknown>} spec a Vega-Lite spec with its data inline
 * @returns {Promise<string>}
 */
export async function renderSvg(spec) {
  // The charts are built in code from JSON the bench wrote: vega-lite's own spec types would add nothing here.
  const { spec: vegaSpec } = compile(/** @type {import("vega-lite").TopLevelSpec} */ (/** @type {unknown} */ (spec)));
  const view = new View(parse(vegaSpec), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
