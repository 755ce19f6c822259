import t from 'tap'
import { createServer } from 'node:http'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startFalconet } from '../support/falconet.js'
import { waitFor } from '../support/net.js'
import { runCli } from '../support/cli.js'

/**
 * Dead letters end to end, on a real falconet process: a webhook receiver answers 400, so the
 * notification is dead-lettered; /api/status and /api/dead-letters show it (behind the management
 * token), `falconet dead-letters list` too; the receiver is fixed, `falconet dead-letters redrive`
 * queues it again through the spool, and the message arrives exactly once.
 */
const ADMIN = 'ADMIN-TOKEN-FOR-DEAD-LETTERS'

t.test('a receiver answers 400, is fixed, the letter is redriven and arrives once', async (t) => {
  let broken = true
  const received: unknown[] = []
  let refused = 0
  const hook = createServer((req, res) => {
    let body = ''
    req.on('data', (d) => (body += d))
    req.on('end', () => {
      if (broken) {
        refused++
        res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"unknown field"}')
        return
      }
      received.push(JSON.parse(body))
      res.writeHead(200).end('ok')
    })
  })
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r))
  t.teardown(() => new Promise<void>((r) => hook.close(() => r())))
  const dir = mkdtempSync(join(tmpdir(), 'falconet-dead-letters-'))
  const config = join(dir, 'falconet.yaml')
  writeFileSync(config, `receivers:\n  - { name: hook, type: webhook, urlEnv: HOOK_URL, groupWaitSecs: 0 }\n`)
  const falconet = await startFalconet({
    FALCONET_CONFIG: config,
    FALCONET_ADMIN_TOKEN: ADMIN,
    // The test polls /api/status; the per-client management limit (10/s) is for people.
    FALCONET__SERVER__RATE_LIMIT__MANAGEMENT: '0',
    HOOK_URL: `http://127.0.0.1:${(hook.address() as { port: number }).port}/hook`,
  })
  t.teardown(() => falconet.stop())
  const api = (path: string, init: RequestInit = {}) => fetch(`${falconet.url}${path}`, { ...init, headers: { authorization: `Bearer ${ADMIN}`, ...(init.headers as Record<string, string>) } })
  const status = async () => ((await (await api('/api/status')).json()) as { sinks: Array<Record<string, any>> }).sinks.find((s) => s.id === 'receiver-hook')!

  const sent = await api('/test?priority=Critical', { method: 'POST' })
  t.equal(sent.status, 200)
  await waitFor(
    async () => (await status()).deadLettered === 1,
    30_000,
    () => `not dead-lettered:\n${falconet.logs()}`,
  )
  t.equal(refused, 1, 'the receiver refused it once: a 400 is not retried')

  // Behind the management token, like the silences.
  t.equal((await fetch(`${falconet.url}/api/status`)).status, 401)
  t.equal((await fetch(`${falconet.url}/api/dead-letters`)).status, 401)
  t.equal((await fetch(`${falconet.url}/api/dead-letters/redrive`, { method: 'POST' })).status, 401)

  const s = await status()
  t.equal(s.pending, 0)
  t.equal(s.oldestPendingAgeSecs, null)
  t.equal(s.lastSuccessAt, null)
  t.match(s.lastError, { at: /^\d{4}-\d\d-\d\dT/, message: /Rejected: .*400/ })
  const all = (await (await api('/api/status')).json()) as { sinks: Array<{ id: string }> }
  t.ok(
    all.sinks.some((x) => x.id === 'file'),
    'every sink is listed',
  )

  const letters = (await (await api('/api/dead-letters?sink=receiver-hook')).json()) as { items: Array<Record<string, any>> }
  t.equal(letters.items.length, 1)
  const [letter] = letters.items
  t.match(letter, { sink: 'receiver-hook', id: /^falconet\//, reason: /400/, at: /^\d{4}-/ })
  t.equal(letter!.finding.id, letter!.id, 'the finding itself')
  t.equal(letter!.finding.severity, 'CRITICAL')
  t.same(((await (await api(`/api/dead-letters?sink=receiver-hook&id=${encodeURIComponent('falconet/none')}`)).json()) as { items: unknown[] }).items, [], 'filtered by id')
  const bad = await api('/api/dead-letters?sink=../../etc')
  t.equal(bad.status, 400)
  t.match(await bad.json(), { code: 'FALCONET_ERR_INVALID_REQUEST' })

  const listed = await runCli(['dead-letters', 'list', '--data-dir', falconet.dataDir])
  t.equal(listed.code, 0, listed.stderr)
  t.match(listed.stdout, new RegExp(`receiver-hook  ${letter!.id}  Rejected: `))

  broken = false
  const redriven = await runCli(['dead-letters', 'redrive', '--sink', 'receiver-hook', '--url', falconet.url], { env: { FALCONET_ADMIN_TOKEN: ADMIN } })
  t.equal(redriven.code, 0, redriven.stderr)
  t.match(redriven.stdout, /^requeued 1 letter\n$/)
  await waitFor(
    async () => received.length >= 1 && (await status()).pending === 0,
    30_000,
    () => `not delivered after redrive:\n${falconet.logs()}`,
  )
  const after = await status()
  t.equal(after.deadLettered, 0, 'the letter left its file')
  t.ok(after.lastSuccessAt !== null && Date.parse(after.lastSuccessAt) > Date.parse(s.lastError.at), 'a success after the error')
  t.equal(readFileSync(join(falconet.dataDir, 'dead-letter', 'receiver-hook.jsonl'), 'utf8'), '')

  const again = (await (await api('/api/dead-letters/redrive', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"sink":"receiver-hook"}' })).json()) as { requeued: number }
  t.equal(again.requeued, 0, 'nothing left to redrive')
  t.equal((await status()).pending, 0)
  t.equal(received.length, 1, 'the message arrived once')
  t.match(JSON.stringify(received[0]), letter!.id)
  const extra = await api('/api/dead-letters/redrive', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"sinks":"x"}' })
  t.equal(extra.status, 400)
})
