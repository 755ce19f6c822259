import t from 'tap'
import { createServer } from 'node:http'
import { mkdtempSync, writeFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startFalconet } from '../support/falconet.js'
import { waitFor } from '../support/net.js'
import { alertBody } from '../support/alerts.js'

/**
 * Many groups at once to a webhook that allows one message a second (429 + Retry-After otherwise):
 * messages go one at a time at the service's pace, busy answers are retried after Retry-After, and
 * none is dead-lettered however long it takes.
 */
t.test('a webhook that allows one message a second gets them one at a time, and all of them', async (t) => {
  let last = 0
  let concurrent = 0
  let maxConcurrent = 0
  const received: string[] = []
  let refused = 0
  const slack = createServer((req, res) => {
    concurrent++
    maxConcurrent = Math.max(maxConcurrent, concurrent)
    let body = ''
    req.on('data', (d) => (body += d))
    req.on('end', () => {
      setTimeout(() => {
        concurrent--
        const now = Date.now()
        if (now - last < 900) {
          refused++
          return void res.writeHead(429, { 'retry-after': '1' }).end('rate_limited')
        }
        last = now
        received.push(JSON.parse(body).blocks[0].text.text)
        res.writeHead(200).end('ok')
      }, 20)
    })
  })
  await new Promise<void>((r) => slack.listen(0, '127.0.0.1', r))
  t.teardown(() => new Promise<void>((r) => slack.close(() => r())))
  const dir = mkdtempSync(join(tmpdir(), 'falconet-pacing-'))
  writeFileSync(join(dir, 'c.yaml'), `receivers:\n  - name: s\n    type: slack\n    urlEnv: SLACK_URL\n    groupBy: [rule, namespace]\n    groupWaitSecs: 1\nrouting:\n  receivers: [s]\n`)
  const falconet = await startFalconet({ FALCONET_CONFIG: join(dir, 'c.yaml'), SLACK_URL: `http://127.0.0.1:${(slack.address() as { port: number }).port}/services/x`, FALCONET__SINKS__FILE__ENABLED: 'false' })
  t.teardown(() => falconet.stop())
  // Five groups (five namespaces) arriving together.
  for (let i = 0; i < 5; i++) await fetch(`${falconet.url}/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: alertBody('05-', { namespace: `team-${i}` }) })
  await waitFor(
    () => received.length === 5,
    30_000,
    () => `got ${received.length}:\n${falconet.logs()}`,
  )
  t.equal(maxConcurrent, 1, 'one request at a time')
  t.ok(refused <= 2, `${refused} refusals while finding the pace`)
  await falconet.stop()
  t.notOk(existsSync(join(falconet.dataDir, 'dead-letter', 'receiver-s.jsonl')), 'nothing dead-lettered')
})
