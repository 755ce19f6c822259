/**
 * Enrichment benchmark (issue 5): 10,000 pods and 500 nodes, generated at a realistic size
 * (managedFields, volumes, env, statuses: what the API server really sends), served by the local
 * list/watch server; time to first sync, RSS of the whole process with the cache full, and lookup
 * time per association rule. Prints figures; asserts nothing. Goal: under 150 MB RSS.
 *
 *   npx tsx bench/enrichment.ts [pods] [nodes]
 */
import { Registry } from 'prom-client'
import pino from 'pino'
import { KubeMetadata } from '../src/enrich/kube/client.js'
import { enrichEvent } from '../src/enrich/enricher.js'
import { normalizeFalcoAlert } from '../src/sources/falco-alert.js'
import { FakeKube, podObject, nodeObject, namespaceObject, serviceAccountObject } from '../test/support/fake-kube.js'
import { readFileSync } from 'node:fs'
import { execFileSync, spawn } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from '../test/support/net.js'

const pods = Number(process.argv[2] ?? 10_000)
const nodes = Number(process.argv[3] ?? 500)
const ids = Array.from({ length: pods }, (_, p) => p.toString(16).padStart(12, '0'))

// The API server runs in a child process, so the RSS below is falconet's alone.
if (process.argv[4] === '--serve') {
  await serve()
} else {
  await measure()
}

async function serve() {
  const kube = await new FakeKube().start()
  kube.apply('namespaces', namespaceObject('kube-system'))
  for (let n = 0; n < 40; n++) {
    kube.apply('namespaces', namespaceObject(`team-${n}`, { team: `t${n}` }))
    kube.apply('serviceaccounts', serviceAccountObject(`team-${n}`, 'app', `arn:aws:iam::111122223333:role/team-${n}`))
  }
  for (let n = 0; n < nodes; n++) kube.apply('nodes', nodeObject(`ip-10-${Math.floor(n / 250)}-${n % 250}-1.eu-west-1.compute.internal`, { instanceId: `i-${n.toString(16).padStart(17, '0')}`, zone: 'eu-west-1a', nodegroup: 'general' }))
  for (let p = 0; p < pods; p++) {
    const id = p.toString(16).padStart(12, '0') + 'f'.repeat(52)
    const node = p % nodes
    kube.apply('pods', podObject({
      namespace: `team-${p % 40}`,
      name: `svc-${p % 400}-7d9c6b7b9c-${p.toString(36).padStart(5, 'b')}`,
      node: `ip-10-${Math.floor(node / 250)}-${node % 250}-1.eu-west-1.compute.internal`,
      ip: `10.${(p >> 16) & 255}.${(p >> 8) & 255}.${p & 255}`,
      owner: { kind: 'ReplicaSet', name: `svc-${p % 400}-7d9c6b7b9c` },
      labels: { app: `svc-${p % 400}`, 'pod-template-hash': '7d9c6b7b9c', 'app.kubernetes.io/part-of': 'shop', version: 'v2' },
      serviceAccount: 'app',
      containers: [
        { name: 'app', image: `111122223333.dkr.ecr.eu-west-1.amazonaws.com/svc-${p % 400}:1.0.${p % 50}`, id, env: [{ name: 'AWS_ROLE_ARN', value: `arn:aws:iam::111122223333:role/team-${p % 40}` }, { name: 'AWS_WEB_IDENTITY_TOKEN_FILE', value: '/var/run/secrets/eks.amazonaws.com/serviceaccount/token' }] },
        { name: 'istio-proxy', image: 'docker.io/istio/proxyv2:1.24.0', id: (p + 1e6).toString(16).padStart(64, 'e') },
      ],
    }))
  }
  process.stdout.write(kube.kubeconfig() + '\n')
}

async function measure() {
  const server = spawn(process.execPath, ['--import', 'tsx', new URL(import.meta.url).pathname, String(pods), String(nodes), '--serve'], { stdio: ['ignore', 'pipe', 'inherit'] })
  const kubeconfig: string = await new Promise((resolve) => server.stdout.once('data', (d) => resolve(String(d).trim())))

  // 1. The falconet process itself, as the image runs it (compiled, node dist/cli/main.js serve).
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: new URL('..', import.meta.url).pathname })
  const port = await freePort()
  const dataDir = mkdtempSync(join(tmpdir(), 'falconet-bench-'))
  const started = performance.now()
  const falconet = spawn(process.execPath, ['dist/cli/main.js', 'serve'], {
    cwd: new URL('..', import.meta.url).pathname,
    env: { PATH: process.env.PATH ?? '', ...(process.env.FALCONET_BENCH_NODE_OPTIONS ? { NODE_OPTIONS: process.env.FALCONET_BENCH_NODE_OPTIONS } : {}), FALCONET_PORT: String(port), FALCONET_DATA_DIR: dataDir, FALCONET_LOG_LEVEL: 'warn', FALCONET__ENRICHMENT__ENABLED: 'true', FALCONET__ENRICHMENT__KUBECONFIG: kubeconfig, FALCONET__ENRICHMENT__SYNC_TIMEOUT_SECS: '600' },
    stdio: 'inherit',
  })
  const url = `http://127.0.0.1:${port}`
  for (;;) {
    const ready = await fetch(`${url}/readyz`).then((r) => r.json() as Promise<any>, () => undefined)
    if (ready?.enrichment?.synced) break
    await new Promise((r) => setTimeout(r, 20))
  }
  const syncMs = performance.now() - started
  await new Promise((r) => setTimeout(r, 3000)) // let start-up garbage be collected
  const metrics = await (await fetch(`${url}/metrics`)).text()
  const value = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)`, 'm').exec(metrics)?.[1])
  const cache = metrics.match(/falconet_enrich_cache_objects\{kind="\w+"\} \d+/g)?.join(', ')
  falconet.kill('SIGTERM')

  // 2. Lookup cost per association rule, in this process.
  const meta = new KubeMetadata({ mode: 'cluster', kubeconfig, deletedPodGraceMs: 120_000, syncTimeoutMs: 600_000, podAnnotations: [] }, { logger: pino({ level: 'silent' }), registry: new Registry() })
  while (!meta.synced) await new Promise((r) => setTimeout(r, 20))
  server.kill()
  const alert = normalizeFalcoAlert(JSON.parse(readFileSync(new URL('../test/fixtures/falco/01-terminal-shell-in-container.json', import.meta.url), 'utf8')))
  const time = (label: string, make: (i: number) => typeof alert) => {
    const n = 100_000
    const t0 = performance.now()
    let found = 0
    for (let i = 0; i < n; i++) if (enrichEvent(make(i), { lookup: meta.cache }).workload.podUid) found++
    return { rule: label, lookups: n, found, microseconds_per_event: (((performance.now() - t0) * 1000) / n).toFixed(2) }
  }
  const rows = [
    time('container id (12 chars)', (i) => ({ ...alert, workload: { ...alert.workload, container: { id: ids[i % pods]! } } })),
    time('namespace + pod name', (i) => ({ ...alert, workload: { namespace: `team-${(i % pods) % 40}`, pod: `svc-${(i % pods) % 400}-7d9c6b7b9c-${(i % pods).toString(36).padStart(5, 'b')}` } })),
    time('pod IP', (i) => ({ ...alert, workload: {}, fields: { 'k8s.pod.ip': `10.${((i % pods) >> 16) & 255}.${((i % pods) >> 8) & 255}.${(i % pods) & 255}` } })),
  ]
  meta.stop()
  console.log(`\nEnrichment: ${pods} pods, ${nodes} nodes (realistic objects, local list/watch server in another process)`)
  console.table([{
    start_to_synced_ms: Math.round(syncMs),
    falconet_rss_mb: Math.round(value('falconet_process_resident_memory_bytes') / 1048576),
    falconet_heap_used_mb: Math.round(value('falconet_nodejs_heap_size_used_bytes') / 1048576),
    cache,
  }])
  console.table(rows)
}
