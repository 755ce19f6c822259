import { readFileSync } from 'node:fs'

/**
 * A V8 .cpuprofile (what `node --cpu-prof` writes; open it in Chrome DevTools' Performance tab or
 * speedscope for the flame graph) summarised as self time per function and per package/file, the
 * two views that say where the time goes.
 */
interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  hitCount?: number
}
interface Profile {
  nodes: ProfileNode[]
  startTime: number
  endTime: number
  samples: number[]
  timeDeltas: number[]
}

export interface SelfTime {
  name: string
  ms: number
  percent: number
}

/** Where a script lives: the npm package, falconet's own file, or Node itself. */
function area(url: string, fn: string): string {
  if (!url) return fn.startsWith('(') ? fn : '(native)'
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (pkg) return pkg[1]!
  if (url.startsWith('node:')) return url
  const own = /\/(dist|src)\/(.+)$/.exec(url)
  return own ? `falconet ${own[2]}` : url
}

/**
 * `window`: only samples taken between these monotonic times (µs, process.hrtime's clock, which
 * is V8's on Linux), so start-up and shutdown stay out of a profile of the load.
 */
export function summarise(file: string, window?: { fromUs: number; toUs: number }, top = 25): { totalMs: number; functions: SelfTime[]; areas: SelfTime[] } {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const selfUs = new Map<number, number>()
  let at = profile.startTime
  profile.samples.forEach((id, i) => {
    at += profile.timeDeltas[i] ?? 0
    if (window && (at < window.fromUs || at > window.toUs)) return
    // The time to the next sample belongs to this one (the usual approximation).
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i + 1] ?? 0))
  })
  const totalUs = [...selfUs.values()].reduce((a, b) => a + b, 0)
  const fns = new Map<string, number>()
  const areas = new Map<string, number>()
  for (const [id, us] of selfUs) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame
    const short = url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/(dist|src)\//, '$1/')
    const name = `${functionName || '(anonymous)'} ${short ? `${short}:${lineNumber + 1}` : ''}`.trim()
    fns.set(name, (fns.get(name) ?? 0) + us)
    const a = area(url, functionName)
    areas.set(a, (areas.get(a) ?? 0) + us)
  }
  const rank = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, ms: us / 1000, percent: (100 * us) / totalUs }))
  return { totalMs: totalUs / 1000, functions: rank(fns), areas: rank(areas) }
}
