/**
 * Before/after for memory: two builds of falconet started in alternating rounds, each measured
 * idle (the bench's config, RSS 3 s after ready) and with the enrichment cache full (`pods` pods
 * and `nodes` nodes from the bench's list/watch server in another process, RSS 3 s after synced).
 * The figure that counts is each round's ratio B ÷ A.
 *
 *   npm run build && cp -r dist bench/results/ab/before     # the build to compare against
 *   (change src/) npm run build
 *   npx tsx bench/ab-memory.ts bench/results/ab/before dist [pods] [nodes]
 *
 * BENCH_REPEATS (default 4) rounds; BENCH_AB_NODE_ARGS_A / _B add Node flags to one side.
 */
import { spawn } from 'node:child_process'
import { resolve, join } from 'node:path'
import { loadavg } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import { MB, pinSelf } from './lib/procs.js'
import { securityHubSink } from './lib/sinks.js'
import { ROOT, startFalconet, untilEnrichmentSynced } from './lib/targets.js'

const [a, b, podsArg, nodesArg] = process.argv.slice(2)
if (!a || !b) {
  console.error('usage: npx tsx bench/ab-memory.ts <distA> <distB> [pods] [nodes]')
  process.exit(2)
}
const pods = Number(podsArg ?? 10_000)
const nodes = Number(nodesArg ?? 500)
const rounds = Number(process.env.BENCH_REPEATS ?? 4)
pinSelf()

const kubeServer = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/lib/kube-server.ts'), String(pods), String(nodes)], { stdio: ['ignore', 'pipe', 'inherit'] })
const kubeconfig: string = await new Promise((ok, fail) => {
  kubeServer.stdout!.once('data', (d) => ok(String(d).trim()))
  kubeServer.once('exit', (code) => fail(new Error(`the kube server exited (${code})`)))
})
const hub = await securityHubSink()

async function measure(dist: string, label: 'A' | 'B', enrichment: boolean): Promise<number> {
  const nodeArgs = (process.env[`BENCH_AB_NODE_ARGS_${label}`] ?? '').split(' ').filter(Boolean)
  const config = enrichment ? { enrichment: { enabled: true, kubeconfig, syncTimeoutSecs: 600 } } : {}
  const falconet = await startFalconet({ securityHub: hub.url, dist: resolve(dist), nodeArgs, config })
  try {
    if (enrichment) {
      await untilEnrichmentSynced(falconet.url)
    }
    await sleep(3000)
    return falconet.rss() / MB
  } finally {
    await falconet.stop()
  }
}

const figures: Record<string, { A: number[]; B: number[] }> = { idle: { A: [], B: [] }, cached: { A: [], B: [] } }
const load = [
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' '),
]
for (let round = 0; round < rounds; round++) {
  const order = round % 2 === 0 ? (['A', 'B'] as const) : (['B', 'A'] as const)
  for (const what of ['idle', 'cached'] as const) {
    for (const label of order) figures[what]![label].push(await measure(label === 'A' ? a : b, label, what === 'cached'))
  }
  const line = (['idle', 'cached'] as const).map((w) => `${w} A ${figures[w]!.A[round]!.toFixed(0)} B ${figures[w]!.B[round]!.toFixed(0)} MB (B÷A ${(figures[w]!.B[round]! / figures[w]!.A[round]!).toFixed(2)})`).join('; ')
  console.log(`round ${round + 1}: ${line}; load ${loadavg()[0]!.toFixed(2)}`)
}
load.push(
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' '),
)
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!
for (const w of ['idle', 'cached'] as const) {
  const ratios = figures[w]!.A.map((x, i) => figures[w]!.B[i]! / x)
  console.log(`${w}: A median ${median(figures[w]!.A).toFixed(0)} MB, B median ${median(figures[w]!.B).toFixed(0)} MB; B÷A median ${median(ratios).toFixed(2)} (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})`)
}
console.log(`load average at start ${load[0]}, at end ${load[1]}`)
kubeServer.kill()
await hub.close()
