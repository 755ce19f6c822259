import * as vega from 'vega'
import { compile, type TopLevelSpec } from 'vega-lite'
import { Resvg } from '@resvg/resvg-js'

/**
 * The PNG of a run: throughput and latency side by side. Vega-Lite spec → Vega → SVG (headless,
 * renderer 'none') → PNG with resvg. Pure JS and a prebuilt binary: no browser, no canvas.
 */
export interface ChartData {
  /** Falco single-alert POSTs: requests/s per server, median and spread of the runs. */
  falco: Array<{ target: string; median: number; min: number; max: number }>
  /** Falco POST latency per server. */
  falcoLatency: Array<{ target: string; percentile: string; ms: number }>
  /** Fluent Bit records/s per format. */
  fluentBit: Array<{ format: string; median: number; min: number; max: number }>
  /** End-to-end latency at the steady rate, per destination. */
  endToEnd: Array<{ path: string; percentile: string; ms: number }>
  subtitle: string
}

function bars(title: string, x: string, xTitle: string, values: unknown[], width = 260): Record<string, unknown> {
  return {
    title,
    width,
    height: 180,
    data: { values },
    layer: [
      { mark: { type: 'bar', color: '#4c78a8' }, encoding: { x: { field: x, type: 'nominal', title: null, sort: null, axis: { labelAngle: -30 } }, y: { field: 'median', type: 'quantitative', title: xTitle } } },
      { mark: { type: 'rule', color: '#222' }, encoding: { x: { field: x, type: 'nominal', sort: null }, y: { field: 'min', type: 'quantitative' }, y2: { field: 'max' } } },
    ],
  }
}

function grouped(title: string, x: string, values: unknown[], width = 260): Record<string, unknown> {
  return {
    title,
    width,
    height: 180,
    data: { values },
    mark: 'bar',
    encoding: {
      x: { field: x, type: 'nominal', title: null, sort: null, axis: { labelAngle: -30 } },
      xOffset: { field: 'percentile' },
      // Log scale (sub-millisecond to seconds): bars stand on 0.1 ms, as a log axis has no zero.
      y: { field: 'ms', type: 'quantitative', title: 'ms (log scale)', scale: { type: 'log', domainMin: 0.1 } },
      y2: { datum: 0.1 },
      color: { field: 'percentile', type: 'nominal', scale: { range: ['#4c78a8', '#e45756'] } },
    },
  }
}

export async function renderChart(data: ChartData): Promise<{ svg: string; png: Buffer }> {
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'falconet benchmark: throughput and latency', subtitle: data.subtitle },
    background: 'white',
    config: { font: 'DejaVu Sans' },
    vconcat: [
      { hconcat: [bars('Falco POSTs (requests/s, bar: median, line: spread)', 'target', 'requests/s', data.falco), grouped('Falco POST latency', 'target', data.falcoLatency)] },
      { hconcat: [bars('Fluent Bit chunks (records/s)', 'format', 'records/s', data.fluentBit), grouped('End to end at the steady rate', 'path', data.endToEnd)] },
    ],
  } as unknown as TopLevelSpec
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' })
  const svg = await view.toSVG()
  view.finalize()
  const png = new Resvg(svg, { background: 'white', fitTo: { mode: 'zoom', value: 1.5 }, font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' } }).render().asPng()
  return { svg, png }
}
