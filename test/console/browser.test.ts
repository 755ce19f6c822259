import t from 'tap'
import { createServer } from 'node:http'
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import axeCore from 'axe-core'
import { startFalconet } from '../support/falconet.js'
import { freePort, waitFor } from '../support/net.js'
import { falcoFixtures, falcoFixture } from '../support/fixtures.js'
import { startOidcProvider } from '../support/oidc-provider.js'

/**
 * The console in a real browser (Debian's Chromium, driven by playwright-core) against falconet as
 * a real process, a real OpenID provider (oidc-provider) and a local server playing Slack's
 * incoming webhook; axe-core checks accessibility. Screenshots of every page go to .tap/console/ (CONSOLE_SCREENSHOTS to change).
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const SHOTS = process.env.CONSOLE_SCREENSHOTS ?? join(process.cwd(), '.tap', 'console')
const TOKEN = 'console-test-management-token-0123456789'
const CLIENT = { id: 'falconet-console', secret: 'oidc-client-secret-abcdefghijklmnop' }

// A browser, an identity provider and falconet as a process: on a loaded 2-core machine this file
// takes minutes, not the suite's default two (the root timeout is passed to the runner).
t.setTimeout(600_000)

async function slackCapture() {
  const messages: string[] = []
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (d) => (body += d))
    req.on('end', () => {
      messages.push(body)
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok')
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, messages, close: () => new Promise<void>((r) => server.close(() => r())) }
}

/** A webhook receiver's endpoint that refuses everything (400: final, so dead-lettered) until `accept` is set. */
async function refusingWebhook() {
  const state = { accept: false, received: [] as string[] }
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (d) => (body += d))
    req.on('end', () => {
      if (!state.accept) return res.writeHead(400, { 'content-type': 'text/plain' }).end('refused')
      state.received.push(body)
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok')
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return Object.assign(state, { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, close: () => new Promise<void>((r) => server.close(() => r())) })
}

/** Fixture 01 (a shell in shop/cart-api) moved to another pod, as a new alert now. */
function shellAlert(namespace: string, pod: string): string {
  const alert = JSON.parse(falcoFixture('01-').body.replace(/"evt\.time":\d+/, '"evt.time":0'))
  alert.time = new Date().toISOString()
  alert.output_fields['k8s.ns.name'] = namespace
  alert.output_fields['k8s.pod.name'] = pod
  alert.output = alert.output.replace('k8s_pod_name=cart-api-7d9c6b7b9c-x2x8k k8s_ns_name=shop', `k8s_pod_name=${pod} k8s_ns_name=${namespace}`)
  return JSON.stringify(alert)
}

/**
 * Wait until the list's summary shows the given filter query and matches (a browser-side function;
 * this file has no DOM types). The page loads one query at a time, so right after a change the
 * previous filter's result can still be on screen, with a summary that may match as well.
 */
function summaryIs(page: Page, re: RegExp, query: string) {
  return page.waitForFunction(
    ([source, query]) => {
      const summary = (globalThis as any).document.getElementById('summary')
      return summary?.dataset.query === query && new RegExp(source).test(summary?.textContent ?? '')
    },
    [re.source, query] as const,
  )
}

async function post(url: string, body: string): Promise<void> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
  if (!res.ok) throw new Error(`POST ${url}: ${res.status} ${await res.text()}`)
}

t.test('the console in Chromium: sign-in, findings, filters, a silence from a finding, accessibility', async (t) => {
  mkdirSync(SHOTS, { recursive: true })
  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  const slack = await slackCapture()
  const hook = await refusingWebhook()
  const idp = await startOidcProvider({
    clientId: CLIENT.id,
    clientSecret: CLIENT.secret,
    redirectUri: `${base}/ui/auth/callback`,
    groups: { alice: ['sec-responders'], victor: ['sec-viewers'], mallory: ['marketing'] },
  })
  const dir = mkdtempSync(join(tmpdir(), 'falconet-console-'))
  const config = join(dir, 'falconet.yaml')
  writeFileSync(
    config,
    `receivers:
  - name: slack-sec
    type: slack
    urlEnv: SLACK_URL
    groupWaitSecs: 0
    repeatIntervalSecs: 3600
  - name: hook
    type: webhook
    urlEnv: HOOK_URL
    groupWaitSecs: 0
routing:
  receivers: [slack-sec, hook]
  matchers: ['severity >= LOW']
console:
  oidc:
    issuer: ${idp.issuer}
    clientId: ${CLIENT.id}
    clientSecretEnv: OIDC_SECRET
    redirectUrl: ${base}/ui/auth/callback
    scopes: openid email profile groups
    roleClaim: groups
    responderValues: [sec-responders]
    viewerValues: [sec-viewers]
`,
  )
  const falconet = await startFalconet(
    {
      FALCONET_PORT: String(port),
      FALCONET_CONFIG: config,
      FALCONET_ADMIN_TOKEN: TOKEN,
      SLACK_URL: `${slack.url}/services/T000/B000/XXXX`,
      HOOK_URL: `${hook.url}/falconet`,
      OIDC_SECRET: CLIENT.secret,
      FALCONET__SERVER__RATE_LIMIT__CONSOLE: '0',
      FALCONET__SERVER__RATE_LIMIT__MANAGEMENT: '0',
    },
    undefined,
    90_000,
  )
  const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] })
  t.teardown(async () => {
    await browser.close()
    await falconet.stop()
    await Promise.all([slack.close(), idp.close(), hook.close()])
  })

  const fixtures = falcoFixtures()
  for (const f of fixtures) await post(`${base}/`, f.body)
  const bearer = { authorization: `Bearer ${TOKEN}` }
  const api = async (path: string) => (await fetch(`${base}${path}`, { headers: bearer })).json() as Promise<any>
  await waitFor(
    async () => (await api('/api/findings?limit=1&archived=any')).total === fixtures.length,
    30_000,
    () => 'the fixtures did not reach the console index',
  )

  const errors: string[] = []
  const watch = (page: Page) => {
    // Ours only: the identity provider's own pages are not the console's.
    const ours = () => page.url().startsWith(base)
    page.on('console', (m) => {
      if (m.type() === 'error' && ours()) errors.push(`${page.url()}: ${m.text()}`)
    })
    page.on('pageerror', (e) => {
      if (ours()) errors.push(`${page.url()}: ${e.message}`)
    })
    return page
  }
  const ready = (page: Page) => page.waitForSelector('body[data-ready="true"]', { state: 'attached', timeout: 30_000 })
  // axe-core evaluated through the DevTools protocol (page.evaluate), which the page's CSP does not govern.
  const axe = async (page: Page, name: string) => {
    await page.evaluate(axeCore.source)
    const violations = (await page.evaluate(() => (globalThis as any).axe.run().then((r: any) => r.violations))) as Array<{ id: string; impact: string; help: string; nodes: Array<{ target: string[] }> }>
    const serious = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
    t.same(
      serious.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`),
      [],
      `${name}: no serious accessibility violations`,
    )
  }
  const shoot = (page: Page, name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true })

  await t.test('refused without signing in', async (t) => {
    const context = await browser.newContext()
    const page = watch(await context.newPage())
    await page.goto(`${base}/ui/`)
    t.match(new URL(page.url()).pathname, '/ui/login', 'a page without a session sends to the login form')
    await axe(page, 'login')
    await shoot(page, 'login')
    const res = await page.request.get(`${base}/api/findings`)
    t.equal(res.status(), 401, 'the API refuses a browser without a session')
    await page.fill('#token', 'not-the-token')
    await page.click('form[action="/ui/auth/login"] button[type=submit]')
    t.match(await page.textContent('[role=alert]'), /not valid/, 'a wrong token is refused with a message')
    t.equal((await context.cookies()).filter((c) => c.name === 'falconet_session').length, 0, 'and no session')
    await context.close()
  })

  let context: BrowserContext
  let page: Page
  await t.test('sign in with the management token: the fixture alerts with their counts', async (t) => {
    context = await browser.newContext({ viewport: { width: 1366, height: 900 } })
    page = watch(await context.newPage())
    await page.goto(`${base}/ui/`)
    await page.fill('#token', TOKEN)
    await page.click('form[action="/ui/auth/login"] button[type=submit]')
    await ready(page)
    t.equal(new URL(page.url()).pathname, '/ui/')
    t.notMatch(page.url(), TOKEN, 'the token is never in a URL')
    const cookie = (await context.cookies()).find((c) => c.name === 'falconet_session')!
    t.ok(cookie, 'a session cookie')
    t.equal(cookie.httpOnly, true, 'HttpOnly')
    t.equal(cookie.secure, true, 'Secure')
    t.equal(cookie.sameSite, 'Strict', 'SameSite=Strict')

    const expected = await api('/api/findings?limit=1')
    t.equal(expected.total, fixtures.length, 'one finding per fixture alert (each is a different rule or place)')
    t.match(await page.textContent('#summary'), new RegExp(`of ${fixtures.length}$`), 'the list says how many')
    for (const [severity, n] of Object.entries(expected.bySeverity as Record<string, number>)) {
      t.equal(await page.textContent(`.count[data-sev="${severity}"]`), String(n), `${severity}: ${n}`)
    }
    t.equal(await page.locator('table.findings tbody tr').count(), fixtures.length, 'every finding is listed (one page)')
    const counts = await page.locator('table.findings tbody tr td:nth-child(6)').allTextContents()
    t.same(new Set(counts), new Set(['1']), 'each seen once')
    await axe(page, 'findings')
    await shoot(page, 'findings')
  })

  await t.test('filters narrow the list, on the server', async (t) => {
    await page.selectOption('select[name=source]', 'audit')
    await summaryIs(page, /of 4$/, 'source=audit')
    const sources = await page.locator('table.findings tbody tr td:nth-child(4)').allTextContents()
    t.same([...new Set(sources)], ['audit'], 'only audit findings')
    t.match(page.url(), /source=audit/, 'the filter is in the address, so the view can be shared')
    await page.selectOption('select[name=source]', '')
    await page.fill('input[name=q]', 'cart-api')
    await summaryIs(page, new RegExp(`of (?!${fixtures.length}$)\\d+$`), 'q=cart-api')
    const narrowed = (await api('/api/findings?q=cart-api')).total
    t.ok(narrowed > 0 && narrowed < fixtures.length, 'free text narrows')
    t.equal(await page.locator('table.findings tbody tr').count(), narrowed, 'the page shows what the API finds')
    await page.fill('input[name=q]', '')
    await page.check('input[name=severity][value=CRITICAL]')
    await summaryIs(page, /of 3$/, 'severity=CRITICAL')
    const severities = await page.locator('table.findings tbody tr td:nth-child(1)').allTextContents()
    t.same([...new Set(severities)], ['CRITICAL'], 'a severity chip filters')
    await page.uncheck('input[name=severity][value=CRITICAL]')
  })

  await t.test('a silence made from a finding mutes the next notification', async (t) => {
    await waitFor(
      () => slack.messages.some((m) => m.includes('cart-api')),
      30_000,
      () => `Slack never got the cart-api shell: ${slack.messages.length} messages`,
    )
    await page.goto(`${base}/ui/?rule=${encodeURIComponent('Terminal shell in container')}`)
    await ready(page)
    await page.click('table.findings tbody tr a')
    await ready(page)
    await page.waitForSelector('#delivery table')
    t.equal(await page.locator('#delivery tr', { hasText: 'slack-sec' }).locator('td:nth-child(2)').textContent(), 'delivered', 'the page shows it reached Slack')
    t.equal(await page.locator('#delivery tr', { hasText: 'file' }).locator('td:nth-child(2)').textContent(), 'delivered', 'and the findings file')
    await axe(page, 'finding')
    await shoot(page, 'finding')
    t.match(await page.textContent('main h1'), 'Terminal shell in container')
    // Like this: same rule, same namespace, any workload.
    await page.uncheck('input[name=matcher][value^="workload"]')
    await page.fill('form[aria-labelledby=silence-h] input[name=comment]', 'maintenance shells in shop, CHG-1234')
    await page.click('form[aria-labelledby=silence-h] button[type=submit]')
    await page.waitForSelector('form[aria-labelledby=silence-h] .result.ok')
    const silences = (await api('/api/silences')).silences
    t.equal(silences.length, 1, 'one silence')
    t.same(silences[0].matchers, ['rule = "Terminal shell in container"', 'namespace = "shop"'])
    t.match(silences[0].createdBy, /^management-token:/, 'made by the signed-in identity, not whatever the page says')

    const before = slack.messages.length
    await post(`${base}/`, shellAlert('shop', 'payments-worker-6d8f7c9b5-q2w3e'))
    await post(`${base}/`, shellAlert('billing', 'billing-api-5c7d8f9b6-r4t5y'))
    await waitFor(
      () => slack.messages.slice(before).some((m) => m.includes('billing-api')),
      30_000,
      () => 'the unsilenced shell was not notified',
    )
    t.notOk(
      slack.messages.slice(before).some((m) => m.includes('payments-worker')),
      'the silenced one was not',
    )
    const muted = await api(`/api/findings?q=payments-worker`)
    t.equal(muted.total, 1, 'the silenced finding is still recorded and shown')
  })

  await t.test('archive from a finding: it leaves the active list, with who and why', async (t) => {
    const active = (await api('/api/findings?limit=1')).total
    await page.goto(`${base}/ui/?rule=${encodeURIComponent('Packet socket created in container')}`)
    await ready(page)
    await page.click('table.findings tbody tr a')
    await ready(page)
    await page.fill('form[aria-labelledby=archive-h] input[name=comment]', 'known network scanner, INC-77')
    await page.click('form[aria-labelledby=archive-h] button[type=submit]')
    await page.waitForSelector('form[aria-labelledby=archive-h] .result.ok')
    await waitFor(
      async () => (await api('/api/findings?limit=1')).total === active - 1,
      10_000,
      () => 'the archived finding is still active',
    )
    const archived = (await api('/api/findings?archived=true')).items
    t.same(
      archived.map((f: { rule: string }) => f.rule),
      ['Packet socket created in container'],
      'listed as archived',
    )
    const record = await api(`/api/findings/${archived[0].id}`)
    t.equal(record.finding.archived, true)
    t.match(record.archivedBy, { who: /^management-token:/, comment: 'known network scanner, INC-77' })
    await page.waitForURL(/finding\?id=/)
    await ready(page)
    await page.waitForFunction(() => /archived by management-token/.test((globalThis as any).document.querySelector('.facts')?.textContent ?? ''))
    t.pass('the page says it is archived, by whom')
    t.match(await page.textContent('.facts'), /ReceivedFalco http_output/, 'the page says how the event was received (its provenance)')
  })

  await t.test('overview and health pages', async (t) => {
    await page.goto(`${base}/ui/overview`)
    await ready(page)
    await page.waitForSelector('#chart-severity canvas')
    t.match(await page.textContent('.stats'), String(fixtures.length + 2), 'findings in range, including the two new shells')
    await axe(page, 'overview')
    await shoot(page, 'overview')
    await page.goto(`${base}/ui/health`)
    await ready(page)
    t.match(await page.textContent('#h-sinks + *'), 'slack-sec', 'sinks are listed')
    t.match(await page.textContent('#h-silences + *'), 'maintenance shells in shop', 'the silence is listed')
    await axe(page, 'health')
    await shoot(page, 'health')
    // Expire it from the page.
    await page.click('button[aria-label^="Expire silence"]')
    await waitFor(
      async () => (await api('/api/silences')).silences.length === 0,
      10_000,
      () => 'the silence did not expire',
    )
    await page.click('form.signout button')
    await page.waitForURL(/\/ui\/login/)
    const after = await page.request.get(`${base}/api/findings`)
    t.equal(after.status(), 401, 'signed out: the API refuses the browser')
    await context.close()
  })

  await t.test('dark mode follows the system, with enough contrast', async (t) => {
    const ctx = await browser.newContext({ colorScheme: 'dark', viewport: { width: 1366, height: 900 } })
    const p = watch(await ctx.newPage())
    await p.goto(`${base}/ui/login`)
    await p.fill('#token', TOKEN)
    await p.click('form[action="/ui/auth/login"] button[type=submit]')
    await ready(p)
    const background = await p.evaluate(() => (globalThis as any).getComputedStyle((globalThis as any).document.body).backgroundColor)
    t.equal(background, 'rgb(13, 17, 23)', 'a dark background')
    await axe(p, 'findings (dark)')
    await shoot(p, 'findings-dark')
    await ctx.close()
  })

  await t.test('a redrive from the health page delivers a dead letter', async (t) => {
    await waitFor(
      async () => (await api('/api/dead-letters?sink=receiver-hook')).items.length > 0,
      30_000,
      () => 'the webhook refusals were not dead-lettered',
    )
    hook.accept = true
    const ctx = await browser.newContext({ viewport: { width: 1366, height: 900 } })
    const p = watch(await ctx.newPage())
    await p.goto(`${base}/ui/login`)
    await p.fill('#token', TOKEN)
    await p.click('form[action="/ui/auth/login"] button[type=submit]')
    await ready(p)
    await p.goto(`${base}/ui/health`)
    await ready(p)
    await p.waitForSelector('button[aria-label^="Redrive "]')
    const letters = (await api('/api/dead-letters?sink=receiver-hook')).items as Array<{ id: string }>
    const first = letters[0]!.id
    t.match(await p.textContent('#h-sinks + *'), 'receiver-hook', 'the sink is listed with its dead letters')
    await p.click(`button[aria-label="Redrive ${first} to receiver-hook"]`)
    await p.waitForSelector('.status.ok')
    t.match(await p.textContent('.status.ok'), /1 dead letter\(s\) queued again/)
    await waitFor(
      () => hook.received.some((b) => b.includes(first)),
      30_000,
      () => 'the redriven finding did not reach the webhook',
    )
    t.pass('the redriven finding reached the webhook')
    await shoot(p, 'health')
    await ctx.close()
  })

  await t.test('sign in with OIDC (authorization code + PKCE against a real provider); roles from the groups claim', async (t) => {
    const signIn = async (user: string) => {
      const ctx = await browser.newContext()
      const p = watch(await ctx.newPage())
      await p.goto(`${base}/ui/login`)
      const authorize = p.waitForRequest((r) => r.url().startsWith(`${idp.issuer}/auth`))
      await p.click('a[href="/ui/auth/oidc"]')
      const query = new URL((await authorize).url()).searchParams
      t.equal(query.get('code_challenge_method'), 'S256', 'PKCE S256')
      t.ok(query.get('code_challenge') && query.get('state') && query.get('nonce'), 'with a challenge, state and nonce')
      await p.waitForURL(new RegExp(`^${idp.issuer}/interaction/`))
      await p.fill('input[name=login]', user)
      await p.fill('input[name=password]', 'any')
      await p.click('button[type=submit]')
      await p.waitForURL(new RegExp(`^${base}/ui/`))
      return { ctx, p }
    }
    const alice = await signIn('alice')
    await ready(alice.p)
    t.match(await alice.p.textContent('.who'), 'oidc:alice@example.com · responder', 'alice is a responder')
    await alice.ctx.close()

    const victor = await signIn('victor')
    await ready(victor.p)
    t.match(await victor.p.textContent('.who'), 'viewer', 'victor is a viewer')
    const csrf = await victor.p.getAttribute('meta[name=csrf-token]', 'content')
    const refused = (
      await victor.ctx.request.post(`${base}/api/silences`, {
        headers: { 'content-type': 'application/json', 'x-csrf-token': csrf ?? '' },
        data: { matchers: ['rule = x'], endsAt: '2099-01-01T00:00:00Z', createdBy: 'v', comment: '' },
      })
    ).status()
    t.equal(refused, 403, 'a viewer cannot silence')
    await victor.ctx.close()

    const mallory = await signIn('mallory')
    t.match(mallory.p.url(), /\/ui\/login\?error=oidc/, 'a user in neither group is refused')
    t.equal((await mallory.ctx.cookies()).filter((c) => c.name === 'falconet_session').length, 0, 'without a session')
    await mallory.ctx.close()
  })

  t.same(errors, [], 'no console errors on any page')
  t.match(falconet.logs(), /"audit":\{"who":"management-token:[0-9a-f]{8}","role":"responder","via":"token","action":"POST \/api\/silences"/, 'the silence is in the audit log with who did it')
  t.match(falconet.logs(), /"audit":\{"who":"oidc:alice@example.com","role":"responder","via":"oidc","action":"signed in"/, 'sign-ins are audited')
  t.notMatch(falconet.logs(), TOKEN, 'the token never reaches the log')
})
