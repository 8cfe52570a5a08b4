// Queue depth and throughput over time, from the server's samples of the store's counts, drawn
// with uPlot (canvas: labels are drawn as pixels, never parsed as HTML).
import { html } from "htm/preact";
import { useEffect, useRef, useState } from "preact/hooks";
import uPlot from "uplot";
import { api, type Sample } from "./api.js";

type Columns = [number[], number[], number[], number[]];

function columns(samples: readonly Sample[]): Columns {
  const c: Columns = [[], [], [], []];
  for (const s of samples) {
    c[0].push(s.at / 1000);
    c[1].push((s.counts.pending ?? 0) + (s.counts.retrying ?? 0) + (s.counts.created ?? 0));
    c[2].push(s.counts.running ?? 0);
    c[3].push(Math.round(s.throughput * 100) / 100);
  }
  return c;
}

/** The chart; polls the samples every `pollMs`. */
export function Chart({ pollMs }: { pollMs: number }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | undefined>(undefined);
  const [count, setCount] = useState(0);
  useEffect(() => {
    let stopped = false;
    let timer: number | undefined;
    const tick = async () => {
      try {
        const { samples } = await api.series();
        const data = columns(samples);
        setCount(samples.length);
        if (plot.current) plot.current.setData(data);
        else if (box.current) {
          plot.current = new uPlot(
            {
              width: Math.max(320, box.current.clientWidth),
              height: 180,
              series: [
                {},
                { label: "queued (pending + retrying)", stroke: "#2563eb", width: 2 },
                { label: "running", stroke: "#d97706", width: 2 },
                { label: "finished / s", stroke: "#059669", width: 2, scale: "rate" },
              ],
              axes: [{}, { label: "jobs" }, { side: 1, scale: "rate", label: "jobs/s", grid: { show: false } }],
              scales: { x: { time: true } },
            },
            data,
            box.current,
          );
        }
      } catch {
        // The page shows API errors elsewhere; the chart keeps its last data.
      }
      if (!stopped) timer = window.setTimeout(() => void tick(), pollMs);
    };
    void tick();
    return () => {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      plot.current?.destroy();
      plot.current = undefined;
    };
  }, [pollMs]);
  return html`<figure class="chart">
    <figcaption>Queue depth and throughput (${count} samples)</figcaption>
    <div ref=${box} data-testid="chart"></div>
  </figure>`;
}
