import t from 'tap'
import { createServer } from 'node:http'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { waitFor } from '../support/net.js'
import { alertBody } from '../support/alerts.js'
import { startStore, dropStore } from '../support/store.js'
import { startReplicas } from '../support/replicas.js'
import { chromium, type Page as BrowserPage } from 'playwright-core'

/**
 * Two falconet processes sharing one store (a real redis-server), each with its own data dir: what
 * the console shows through one replica, the other shows — the list, its counts, a finding's
 * detail with its delivery state (delivered to the file sink, dead-lettered by a webhook that
 * refuses), the overview's counts, an archive made through the other replica — and a live-update
 * stream on one replica hears of alerts posted to the other. In Chromium: a findings page open on
 * one replica lists an alert posted to the other without a reload, its finding page shows the
 * delivery states, and the sign-in works on both (one session key).
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
t.setTimeout(600_000)

const TOKEN = 'console-replicas-test-token-0123456789'
const bearer = { authorization: `Bearer ${TOKEN}` }

interface Page {
  total: number
  bySeverity: Record<string, number>
  items: Array<{ id: string; rule: string; count: number; distinctPods: number; archived: boolean }>
}
interface Detail {
  finding: { id: string; version: number; count: number; archived?: boolean }
  routedTo: string[]
  delivered: Record<string, { version: number; at: string }>
  deadLettered?: Record<string, { version: number; code: string; reason: string }>
  archivedBy?: { who: string; comment: string }
}

async function api<T>(base: string, path: string, init: RequestInit = {}): Promise<T> {
  const res = await fetch(`${base}${path}`, { ...init, headers: { ...bearer, ...(init.headers ?? {}) } })
  if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${path}: ${res.status} ${await res.text()}`)
  return (await res.json()) as T
}

/** A webhook that refuses every request (400: final, so the receiver dead-letters). */
async function refusingWebhook() {
  let received = 0
  const server = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      received++
      res.writeHead(400, { 'content-type': 'text/plain' }).end('refused')
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, received: () => received, close: () => new Promise<void>((r) => server.close(() => r())) }
}

/** Server-sent events from `base`: counts the `findings` events received. */
async function liveUpdates(base: string) {
  const abort = new AbortController()
  const res = await fetch(`${base}/api/events`, { headers: bearer, signal: abort.signal })
  if (!res.ok || !res.body) throw new Error(`/api/events: ${res.status}`)
  const state = { events: 0, stop: () => abort.abort() }
  void (async () => {
    let buffered = ''
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffered += Buffer.from(chunk).toString('utf8')
        let end: number
        while ((end = buffered.indexOf('\n\n')) >= 0) {
          if (/^event: findings$/m.test(buffered.slice(0, end))) state.events++
          buffered = buffered.slice(end + 2)
        }
      }
    } catch {
      // aborted at the end of the test
    }
  })()
  return state
}

const comparable = (p: Page) => ({ total: p.total, bySeverity: p.bySeverity, items: p.items.map((i) => ({ id: i.id, count: i.count, distinctPods: i.distinctPods, archived: i.archived })) })

t.test('two replicas, one store: the console shows the same everywhere', async (t) => {
  const store = await startStore()
  t.teardown(() => dropStore(store))
  const hook = await refusingWebhook()
  t.teardown(() => hook.close())
  const dir = mkdtempSync(join(tmpdir(), 'falconet-console-replicas-'))
  writeFileSync(join(dir, 'config.yaml'), `receivers:\n  - name: hook\n    type: webhook\n    urlEnv: HOOK_URL\n    groupWaitSecs: 0\nrouting:\n  receivers: [hook]\n  matchers: ['severity >= LOW']\n`)
  const replicas = await startReplicas(2, {
    FALCONET_CONFIG: join(dir, 'config.yaml'),
    FALCONET_STORE_URL: store.url,
    FALCONET_ADMIN_TOKEN: TOKEN,
    // Every replica signs sessions with the same key (the chart gives them one): a sign-in works on all.
    FALCONET_CONSOLE_SESSION_SECRET: 'replicas-test-session-key-0123456789abcdef',
    HOOK_URL: `${hook.url}/falconet`,
    FALCONET__SINKS__CONSOLE__ENABLED: 'false',
    FALCONET__CLUSTER__STORE__LEASE_SECS: '5',
    FALCONET__SERVER__RATE_LIMIT__CONSOLE: '0',
    FALCONET__SERVER__RATE_LIMIT__MANAGEMENT: '0',
  })
  t.teardown(() => replicas.stopAll())
  const [a, b] = replicas.all.map((r) => r.url) as [string, string]
  const logs = () => replicas.all.map((r, i) => `--- replica ${i}\n${r.logs().split('\n').slice(-20).join('\n')}`).join('\n')

  const live = await liveUpdates(b)
  t.teardown(() => live.stop())
  // Three alerts to A: the shell fixture twice (one finding, two pods) and another rule.
  for (const body of [alertBody('01-', { pod: 'cart-api-7d9c6b7b9c-aaaaa' }), alertBody('01-', { pod: 'cart-api-7d9c6b7b9c-bbbbb' }), alertBody('15-')]) {
    const res = await fetch(`${a}/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
    t.equal(res.status, 200, 'alert accepted by replica A')
  }

  const list = '/api/findings?limit=50'
  let onB: Page | undefined
  await waitFor(
    async () => {
      onB = await api<Page>(b, list)
      return onB.total === 2 && onB.items.reduce((s, i) => s + i.count, 0) === 3
    },
    120_000,
    () => `replica B lists ${JSON.stringify(onB)}\n${logs()}`,
  )
  t.pass('replica B lists the two findings of the three alerts posted to replica A')
  const shell = onB!.items.find((i) => i.count === 2)!
  t.equal(shell.distinctPods, 2, 'the merged finding: two pods')
  let onA: Page | undefined
  await waitFor(
    async () => JSON.stringify(comparable((onA = await api<Page>(a, list)))) === JSON.stringify(comparable(onB!)),
    60_000,
    () => `A ${JSON.stringify(onA)} B ${JSON.stringify(onB)}`,
  )
  t.same(comparable(onA!), comparable(onB!), 'both replicas: the same rows, counts and severity counts')
  const filtered = `/api/findings?q=${encodeURIComponent(shell.rule.toLowerCase())}`
  t.same(comparable(await api<Page>(b, filtered)), comparable(await api<Page>(a, filtered)), 'the same filtered view')
  t.equal((await api<Page>(b, filtered)).total, 1, 'free text narrows the list on replica B')

  await waitFor(
    () => live.events > 0,
    60_000,
    () => 'no live update on replica B',
  )
  t.pass('a live-update stream on replica B heard of the alerts posted to replica A')

  // Delivery state: the file sink delivered it, the webhook refused it (dead-lettered) — seen from both.
  const path = `/api/findings/${shell.id}`
  const settled = (d: Detail) => (d.delivered.file?.version ?? 0) >= d.finding.version && d.deadLettered?.['receiver-hook'] !== undefined
  for (const [name, base] of [
    ['A', a],
    ['B', b],
  ] as const) {
    let detail: Detail | undefined
    await waitFor(
      async () => settled((detail = await api<Detail>(base, path))),
      120_000,
      () => `replica ${name}: ${JSON.stringify(detail)}\n${logs()}`,
    )
    t.equal(detail!.finding.count, 2, `replica ${name}: the finding's merged count`)
    t.ok(detail!.delivered.file!.version >= detail!.finding.version, `replica ${name}: delivered to the file sink`)
    t.equal(detail!.deadLettered!['receiver-hook']!.code, 'Rejected', `replica ${name}: dead-lettered by the refusing webhook`)
  }
  t.ok(hook.received() > 0, 'the webhook was tried')

  await t.test("in Chromium: a page open on B follows alerts posted to A; the finding's delivery from B; one sign-in for both", async (t) => {
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] })
    t.teardown(() => browser.close())
    const context = await browser.newContext({ viewport: { width: 1366, height: 900 } })
    const page = await context.newPage()
    const errors: string[] = []
    page.on('console', (m) => m.type() === 'error' && errors.push(`${page.url()}: ${m.text()}`))
    page.on('pageerror', (e) => errors.push(`${page.url()}: ${e.message}`))
    const ready = (p: BrowserPage) => p.waitForSelector('body[data-ready="true"]', { state: 'attached', timeout: 60_000 })
    const rows = () => page.locator('table.findings tbody tr').count()
    await page.goto(`${b}/ui/`)
    await page.fill('#token', TOKEN)
    await page.click('form[action="/ui/auth/login"] button[type=submit]')
    await ready(page)
    await waitFor(
      async () => (await rows()) === 2,
      30_000,
      () => "B's page does not list the two findings",
    )
    const res = await fetch(`${a}/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: alertBody('01-', { namespace: 'payments', pod: 'pay-api-5f6d7c8b9-qqqqq' }) })
    t.equal(res.status, 200, 'a new alert to replica A')
    await waitFor(
      async () => (await rows()) === 3,
      60_000,
      () => `B's open page did not update\n${logs()}`,
    )
    t.match(await page.locator('table.findings tbody').textContent(), /payments/, "B's open page lists it, without a reload (live update from the store)")
    await page.goto(`${b}/ui/finding?id=${encodeURIComponent(shell.id)}`)
    await ready(page)
    const stateOf = (sink: string) => page.locator('#delivery tr', { hasText: sink }).locator('td:nth-child(2)').textContent()
    await waitFor(
      async () => (await stateOf('receiver-hook')) === 'dead-lettered',
      30_000,
      () => "no dead-lettered state on B's finding page",
    )
    t.equal(await stateOf('file'), 'delivered', 'the finding page on B: delivered to the file sink')
    t.pass('and dead-lettered by the webhook, whichever replica gave up')
    await page.goto(`${a}/ui/`)
    await ready(page)
    t.equal(new URL(page.url()).pathname, '/ui/', 'the session from B is good on A (no sign-in asked)')
    t.same(errors, [], 'no console errors')
  })

  const statsOf = async (base: string) => {
    const s = await api<{ bySeverity: Record<string, number>; totals: { alertsReceived: number }; findings: number }>(base, '/api/stats?from=-1h')
    return { bySeverity: s.bySeverity, alerts: s.totals.alertsReceived, findings: s.findings }
  }
  let stats: unknown
  await waitFor(
    async () => ((stats = await statsOf(b)) as { alerts: number }).alerts === 4,
    60_000,
    () => `stats on B: ${JSON.stringify(stats)}`,
  )
  t.same(await statsOf(a), await statsOf(b), 'the overview counts the same on both')

  // Archive through B: A shows it archived, with who and why.
  const events = live.events
  const archived = await api<{ archived: boolean }>(b, '/api/findings/archive', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: shell.id, comment: 'expected admin shell' }) })
  t.equal(archived.archived, true, 'archived through replica B')
  let onAAfter: Detail | undefined
  await waitFor(
    async () => (onAAfter = await api<Detail>(a, path)).finding.archived === true && onAAfter.archivedBy !== undefined,
    60_000,
    () => `replica A: ${JSON.stringify(onAAfter)}\n${logs()}`,
  )
  t.equal(onAAfter!.archivedBy!.comment, 'expected admin shell', 'replica A shows the archive note made on B')
  await waitFor(
    async () => (await api<Page>(a, '/api/findings?archived=true')).items.some((i) => i.id === shell.id),
    30_000,
    () => 'not listed as archived on A',
  )
  t.same(comparable(await api<Page>(a, '/api/findings?archived=any')), comparable(await api<Page>(b, '/api/findings?archived=any')), 'the same list on both after the archive')
  await waitFor(
    () => live.events > events,
    30_000,
    () => 'no live update for the archive',
  )
})
