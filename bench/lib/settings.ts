/**
 * Durations and sizes, from the environment. The defaults give a full run in about 12–14 minutes on
 * two cores; BENCH_QUICK=1 is a smoke run of well under two minutes whose figures mean little. A
 * run shorter or smaller than the defaults, or of only some suites, is marked scratch (its files
 * are git-ignored, see bench/README.md).
 */
export interface Settings {
  /** Seconds per measured Falco POST run. */
  secs: number
  /** Seconds per measured Fluent Bit run. */
  fluentBitSecs: number
  /** Measured runs per case (medians and spreads are over these). */
  repeats: number
  warmupSecs: number
  /** autocannon connections for the saturating Falco runs: one run per count (1: one Falco; 32: many nodes). */
  connections: number[]
  /** The storm: alerts, pods, and over how long. */
  stormAlerts: number
  stormPods: number
  stormSecs: number
  /** The steady run: alerts/s and how long (end-to-end latency and the RSS soak). */
  steadyRate: number
  soakSecs: number
  /**
   * Seconds a started (or just synced) server is left alone before its idle RSS is read. V8 gives
   * back the young generation start-up grew (2 × 16 MB on Node 20) only when its memory reducer
   * runs, ~20–30 s after the last burst of allocation; the figure 3 s after start is reported too.
   */
  idleSecs: number
  /** The enrichment cache. */
  pods: number
  nodes: number
  quick: boolean
  suites: string[]
  scratch: boolean
}

export const SUITES = ['falco', 'fluent-bit', 'storm', 'steady', 'enrichment', 'scale-out'] as const

const DEFAULTS = { secs: 8, fluentBitSecs: 5, repeats: 3, warmupSecs: 3, connections: [1, 32], stormAlerts: 10_000, stormPods: 50, stormSecs: 60, steadyRate: 1000, soakSecs: 60, idleSecs: 45, pods: 10_000, nodes: 500 }
const QUICK = { ...DEFAULTS, secs: 2, fluentBitSecs: 2, repeats: 1, warmupSecs: 1, stormSecs: 10, soakSecs: 10, idleSecs: 5, pods: 1000, nodes: 50 }

export function settingsFrom(env: NodeJS.ProcessEnv, args: string[]): Settings {
  const quick = env.BENCH_QUICK === '1'
  const base = quick ? QUICK : DEFAULTS
  const num = (name: string, fallback: number) => {
    const v = env[name]
    if (v === undefined || v === '') return fallback
    const n = Number(v)
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${name}=${v}: expected a positive number`)
    return n
  }
  const counts = (name: string, fallback: number[]) => {
    const v = env[name]
    if (v === undefined || v === '') return fallback
    const list = v.split(',').map(Number)
    if (!list.every((n) => Number.isInteger(n) && n > 0)) throw new Error(`${name}=${v}: expected positive whole numbers, comma-separated`)
    return list
  }
  const unknown = args.filter((a) => !(SUITES as readonly string[]).includes(a))
  if (unknown.length) throw new Error(`unknown suite(s) ${unknown.join(', ')}: choose from ${SUITES.join(', ')}`)
  const s = {
    secs: num('BENCH_SECS', base.secs),
    fluentBitSecs: num('BENCH_FLUENT_BIT_SECS', base.fluentBitSecs),
    repeats: Math.round(num('BENCH_REPEATS', base.repeats)),
    warmupSecs: num('BENCH_WARMUP_SECS', base.warmupSecs),
    connections: counts('BENCH_CONNECTIONS', base.connections),
    stormAlerts: Math.round(num('BENCH_STORM_ALERTS', base.stormAlerts)),
    stormPods: Math.round(num('BENCH_STORM_PODS', base.stormPods)),
    stormSecs: num('BENCH_STORM_SECS', base.stormSecs),
    steadyRate: num('BENCH_RATE', base.steadyRate),
    soakSecs: num('BENCH_SOAK_SECS', base.soakSecs),
    idleSecs: num('BENCH_IDLE_SECS', base.idleSecs),
    pods: Math.round(num('BENCH_PODS', base.pods)),
    nodes: Math.round(num('BENCH_NODES', base.nodes)),
    quick,
    suites: args.length ? args : [...SUITES],
  }
  const shorter = (Object.keys(DEFAULTS) as Array<keyof typeof DEFAULTS>).some((k) => k !== 'connections' && k !== 'steadyRate' && s[k] < DEFAULTS[k])
  return { ...s, scratch: quick || shorter || s.suites.length < SUITES.length }
}
