import t from 'tap'
import { createServer } from 'node:http'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { waitFor } from '../support/net.js'
import { alertBody } from '../support/alerts.js'
import { startStore, dropStore } from '../support/store.js'
import { startReplicas } from '../support/replicas.js'
import { runCli } from '../support/cli.js'

/**
 * Dead letters with a store, on two falconet processes sharing a real redis-server (each with its
 * own data dir): a webhook refuses two findings for good, so whichever replica drains it
 * dead-letters them; both replicas list both letters; the webhook is fixed; one letter is
 * redriven through both replicas at the same moment (the API) and the other through the CLI
 * against a store config — each is queued once (one atomic step in the store), reaches the
 * webhook exactly once, and both replicas (API and their files, through the CLI) list none.
 */
t.setTimeout(600_000)

const TOKEN = 'dead-letters-replicas-test-token-0123456789'
const bearer = { authorization: `Bearer ${TOKEN}` }

interface Letter {
  sink: string
  id: string
  reason: string
  finding: { id: string; version: number } | null
}

async function api<T>(base: string, path: string, init: RequestInit = {}): Promise<T> {
  const res = await fetch(`${base}${path}`, { ...init, headers: { ...bearer, ...(init.headers ?? {}) } })
  if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${path}: ${res.status} ${await res.text()}`)
  return (await res.json()) as T
}

/** A webhook that refuses every request (400: final) until fixed; then counts each finding it gets. */
async function webhook() {
  const state = { broken: true, refused: 0, received: new Map<string, number>() }
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (d) => (body += d))
    req.on('end', () => {
      if (state.broken) {
        state.refused++
        res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"unknown field"}')
        return
      }
      for (const f of (JSON.parse(body) as { findings: Array<{ id: string }> }).findings) state.received.set(f.id, (state.received.get(f.id) ?? 0) + 1)
      res.writeHead(200).end('ok')
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return { ...{ state }, url: `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`, close: () => new Promise<void>((r) => server.close(() => r())) }
}

t.test('two replicas, one store: every replica lists every dead letter; a redrive through any queues it once in the shared queue', async (t) => {
  const store = await startStore()
  t.teardown(() => dropStore(store))
  const hook = await webhook()
  t.teardown(() => hook.close())
  const dir = mkdtempSync(join(tmpdir(), 'falconet-dead-letters-replicas-'))
  const config = join(dir, 'config.yaml')
  writeFileSync(config, `receivers:\n  - name: hook\n    type: webhook\n    urlEnv: HOOK_URL\n    groupWaitSecs: 0\nrouting:\n  receivers: [hook]\n  matchers: ['severity >= LOW']\ncluster:\n  store:\n    url: ${store.url}\n`)
  const replicas = await startReplicas(2, {
    FALCONET_CONFIG: config,
    FALCONET_ADMIN_TOKEN: TOKEN,
    HOOK_URL: hook.url,
    FALCONET__SINKS__CONSOLE__ENABLED: 'false',
    FALCONET__CLUSTER__STORE__LEASE_SECS: '5',
    FALCONET__SERVER__RATE_LIMIT__MANAGEMENT: '0',
    FALCONET__SERVER__RATE_LIMIT__CONSOLE: '0',
  })
  t.teardown(() => replicas.stopAll())
  const [a, b] = replicas.all as [(typeof replicas.all)[0], (typeof replicas.all)[0]]
  const logs = () => replicas.all.map((r, i) => `--- replica ${i}\n${r.logs().split('\n').slice(-30).join('\n')}`).join('\n')
  const letters = (base: string) => api<{ items: Letter[] }>(base, '/api/dead-letters').then((r) => r.items)
  const deadCount = async (base: string) => (await api<{ sinks: Array<{ id: string; deadLettered: number }> }>(base, '/api/status')).sinks.find((s) => s.id === 'receiver-hook')?.deadLettered ?? 0
  /** This replica's own file of letters (the CLI reads the data dir). */
  const fileLetters = async (dataDir: string) => {
    const r = await runCli(['dead-letters', 'list', '--data-dir', dataDir, '--json'])
    if (r.code !== 0) throw new Error(r.stderr)
    return r.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { sink: string; id: string })
  }

  // Two findings (two rules), posted to replica A.
  for (const body of [alertBody('01-'), alertBody('15-')]) {
    const res = await fetch(`${a.url}/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
    t.equal(res.status, 200, 'alert accepted by replica A')
  }
  for (const [name, r] of [
    ['A', a],
    ['B', b],
  ] as const) {
    let seen: Letter[] = []
    await waitFor(
      async () => (seen = await letters(r.url)).length === 2,
      120_000,
      () => `replica ${name} lists ${JSON.stringify(seen)}\n${logs()}`,
    )
    t.same(
      seen.map((l) => l.sink),
      ['receiver-hook', 'receiver-hook'],
      `replica ${name} lists both dead letters, whichever replica gave up`,
    )
    t.ok(
      seen.every((l) => l.finding?.id === l.id && /^Rejected: /.test(l.reason)),
      `replica ${name}: each with its finding and why`,
    )
    await waitFor(
      async () => (await deadCount(r.url)) === 2,
      30_000,
      () => `replica ${name}: /api/status`,
    )
  }
  t.equal(hook.state.refused > 0, true, 'the webhook refused')
  // The health page's sink line: the refusal is the sink's last error on both replicas, not only on the one that drained it.
  type Status = { id: string; pending: number; lastError: { message: string } | null; lastSuccessAt: string | null }
  const hookStatus = async (base: string) => (await api<{ sinks: Status[] }>(base, '/api/status')).sinks.find((s) => s.id === 'receiver-hook')!
  for (const [name, r] of [
    ['A', a],
    ['B', b],
  ] as const) {
    let s: Status | undefined
    await waitFor(
      async () => /Rejected/.test((s = await hookStatus(r.url)).lastError?.message ?? ''),
      30_000,
      () => `replica ${name}: ${JSON.stringify(s)}`,
    )
    t.pass(`replica ${name}: /api/status shows the webhook's refusal as its last error`)
  }
  // The replica that drained the webhook wrote the letters to its own file; the other has none.
  const files = [await fileLetters(a.dataDir), await fileLetters(b.dataDir)]
  t.same(files.map((f) => f.length).sort(), [0, 2], 'one replica dead-lettered both, in its own file')
  const [first, second] = (await letters(b.url)).map((l) => l.id) as [string, string]

  hook.state.broken = false
  // The same letter redriven through both replicas at the same moment: queued once.
  const body = JSON.stringify({ sink: 'receiver-hook', id: first })
  const post = { method: 'POST', headers: { 'content-type': 'application/json' }, body }
  const both = await Promise.all([api<{ requeued: number }>(a.url, '/api/dead-letters/redrive', post), api<{ requeued: number }>(b.url, '/api/dead-letters/redrive', post)])
  t.equal(both[0].requeued + both[1].requeued, 1, 'two replicas redriving the same letter at once: one requeues it')
  await waitFor(
    () => hook.state.received.get(first) === 1,
    120_000,
    () => `not delivered after the redrive: ${JSON.stringify([...hook.state.received])}\n${logs()}`,
  )
  t.pass('the webhook received the redriven finding')

  // The other through the CLI, with the store config and replica B's address.
  const cli = await runCli(['dead-letters', 'redrive', '--config', config, '--url', b.url, '--sink', 'receiver-hook', '--id', second], { env: { FALCONET_ADMIN_TOKEN: TOKEN, HOOK_URL: hook.url } })
  t.equal(cli.code, 0, cli.stderr)
  t.match(cli.stdout, /^requeued 1 letter\n$/, 'the CLI redrive through replica B')
  await waitFor(
    () => hook.state.received.get(second) === 1,
    120_000,
    () => `not delivered after the CLI redrive: ${JSON.stringify([...hook.state.received])}\n${logs()}`,
  )

  for (const [name, r] of [
    ['A', a],
    ['B', b],
  ] as const) {
    await waitFor(
      async () => (await letters(r.url)).length === 0 && (await deadCount(r.url)) === 0,
      60_000,
      () => `replica ${name} still lists letters\n${logs()}`,
    )
    t.pass(`replica ${name} lists no dead letter`)
    await waitFor(
      async () => (await fileLetters(r.dataDir)).length === 0,
      60_000,
      () => `replica ${name}'s file keeps letters redriven elsewhere`,
    )
  }
  t.pass('and the letters left the file of the replica that wrote them')
  for (const [name, r] of [
    ['A', a],
    ['B', b],
  ] as const) {
    let s: Status | undefined
    await waitFor(
      async () => (s = await hookStatus(r.url)).lastSuccessAt !== null,
      30_000,
      () => `replica ${name}: ${JSON.stringify(s)}`,
    )
    t.pass(`replica ${name}: /api/status shows the webhook's last delivery`)
  }
  const again = await api<{ requeued: number }>(a.url, '/api/dead-letters/redrive', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
  t.equal(again.requeued, 0, 'nothing left to redrive')
  // Delivered once each: nothing more arrives once every queue is drained.
  await waitFor(
    async () => (await api<{ sinks: Array<{ id: string; pending: number }> }>(a.url, '/api/status')).sinks.every((s) => s.pending === 0),
    30_000,
    () => 'queues not drained',
  )
  t.same(Object.fromEntries(hook.state.received), { [first]: 1, [second]: 1 }, 'each redriven finding reached the webhook exactly once')
})
