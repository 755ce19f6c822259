import t from 'tap'
import { readFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { startFalconet } from '../support/falconet.js'
import { waitFor } from '../support/net.js'
import { falcoFixtures } from '../support/fixtures.js'
import { scriptedServer, type ScriptedAnswer } from '../support/scripted-server.js'

/**
 * moto never refuses a finding, so for FailedFindings this test stands up a local server that
 * speaks Security Hub's REST-JSON protocol (POST /findings/import) and scripts its answers.
 */
interface Call {
  ids: string[]
}

async function fakeSecurityHub(answer: (ids: string[], call: number) => { status: number; headers?: Record<string, string>; body: unknown }) {
  const calls: Call[] = []
  const server = await scriptedServer(({ method, url, body }): ScriptedAnswer => {
    if (method !== 'POST' || url !== '/findings/import') {
      return { status: 404, headers: { 'content-type': 'application/json', 'x-amzn-errortype': 'ResourceNotFoundException' }, body: '{"Message":"no such route"}' }
    }
    const ids = (JSON.parse(body.toString()).Findings as Array<{ Id: string }>).map((f) => f.Id)
    calls.push({ ids })
    const a = answer(ids, calls.length)
    return { status: a.status, headers: { 'content-type': 'application/json', ...a.headers }, body: JSON.stringify(a.body) }
  })
  return { ...server, calls }
}

const envFor = (endpoint: string) => ({
  AWS_REGION: 'eu-west-1',
  AWS_ACCESS_KEY_ID: 'testing',
  AWS_SECRET_ACCESS_KEY: 'testing',
  AWS_ENDPOINT_URL_SECURITYHUB: endpoint,
  FALCONET_SECURITY_HUB_ENABLED: 'true',
  FALCONET__AWS__ACCOUNT_ID: '111122223333',
  FALCONET__SINKS__SECURITY_HUB__BATCH__FLUSH_INTERVAL_MS: '100',
  FALCONET__SINKS__SECURITY_HUB__RETRY__INITIAL_BACKOFF_MS: '20',
  FALCONET__SINKS__FILE__ENABLED: 'false',
})

t.test('FailedFindings: the retryable one is sent again, the invalid one is dead-lettered and logged', async (t) => {
  let invalidId = ''
  let retryId = ''
  const hub = await fakeSecurityHub((ids, call) => {
    if (call === 1) {
      ;[invalidId, retryId] = [ids[0]!, ids[1]!]
      return {
        status: 200,
        body: {
          FailedCount: 2,
          SuccessCount: ids.length - 2,
          FailedFindings: [
            { Id: invalidId, ErrorCode: 'InvalidInput', ErrorMessage: 'Finding does not adhere to Amazon Finding Format.' },
            { Id: retryId, ErrorCode: 'InternalFailure', ErrorMessage: 'Internal service failure' },
          ],
        },
      }
    }
    return { status: 200, body: { FailedCount: 0, SuccessCount: ids.length, FailedFindings: [] } }
  })
  t.teardown(() => hub.close())
  const falconet = await startFalconet(envFor(hub.endpoint))
  t.teardown(() => falconet.stop())

  const fixtures = falcoFixtures().slice(0, 3)
  const alerts = `[${fixtures.map((f) => f.body).join(',')}]`
  t.equal((await fetch(`${falconet.url}/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: alerts })).status, 200)

  await waitFor(
    () => hub.calls.length >= 2,
    15_000,
    () => `no retry:\n${falconet.logs()}`,
  )
  t.equal(hub.calls[0]!.ids.length, 3, 'one batch of three')
  t.same(hub.calls[1]!.ids, [retryId], 'only the retryable finding is sent again')

  const deadLetterFile = join(falconet.dataDir, 'dead-letter', 'securityHub.jsonl')
  await waitFor(
    () => existsSync(deadLetterFile),
    5_000,
    () => 'no dead-letter file',
  )
  const letters = readFileSync(deadLetterFile, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
  t.equal(letters.length, 1)
  t.match(letters[0], { sink: 'securityHub', findingId: invalidId, code: 'InvalidInput', reason: /does not adhere/, payload: { Id: invalidId, SchemaVersion: '2018-10-08' } })
  t.match(falconet.logs(), new RegExp(`"findingId":"${invalidId.replace(/\//g, '\\/')}","code":"InvalidInput"`), 'logged with Id and code')
  await falconet.stop()
  t.equal(hub.calls.length, 2, 'nothing else was sent')
})

t.test('throttling and 5xx answers are retried until accepted; nothing is lost', async (t) => {
  const hub = await fakeSecurityHub((ids, call) => {
    if (call === 1) return { status: 429, headers: { 'x-amzn-errortype': 'LimitExceededException' }, body: { Message: 'Rate exceeded' } }
    if (call === 2) return { status: 503, headers: { 'x-amzn-errortype': 'ServiceUnavailableException' }, body: { Message: 'try later' } }
    return { status: 200, body: { FailedCount: 0, SuccessCount: ids.length, FailedFindings: [] } }
  })
  t.teardown(() => hub.close())
  const falconet = await startFalconet(envFor(hub.endpoint))
  t.teardown(() => falconet.stop())
  const body = falcoFixtures()[0]!.body
  t.equal((await fetch(`${falconet.url}/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })).status, 200)
  await waitFor(
    () => hub.calls.length >= 3,
    15_000,
    () => `not retried:\n${falconet.logs()}`,
  )
  t.same(
    hub.calls.map((c) => c.ids.length),
    [1, 1, 1],
  )
  t.match(falconet.logs(), /LimitExceededException/)
  await falconet.stop()
  t.notOk(existsSync(join(falconet.dataDir, 'dead-letter', 'securityHub.jsonl')), 'no dead letters')
})

t.test('failures that name no finding of the batch resend the batch rather than count as delivered', async (t) => {
  const hub = await fakeSecurityHub((ids, call) => (call === 1 ? { status: 200, body: { FailedCount: 1, SuccessCount: 0, FailedFindings: [] } } : { status: 200, body: { FailedCount: 0, SuccessCount: ids.length, FailedFindings: [] } }))
  t.teardown(() => hub.close())
  const falconet = await startFalconet(envFor(hub.endpoint))
  t.teardown(() => falconet.stop())
  t.equal((await fetch(`${falconet.url}/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: falcoFixtures()[2]!.body })).status, 200)
  await waitFor(
    () => hub.calls.length >= 2,
    15_000,
    () => `not resent:\n${falconet.logs()}`,
  )
  t.same(hub.calls[1]!.ids, hub.calls[0]!.ids)
  await falconet.stop()
  t.notOk(existsSync(join(falconet.dataDir, 'dead-letter', 'securityHub.jsonl')))
})

t.test('a request Security Hub refuses as malformed is dead-lettered whole', async (t) => {
  const hub = await fakeSecurityHub(() => ({ status: 400, headers: { 'x-amzn-errortype': 'InvalidInputException' }, body: { Message: 'Findings too large' } }))
  t.teardown(() => hub.close())
  const falconet = await startFalconet(envFor(hub.endpoint))
  t.teardown(() => falconet.stop())
  const body = falcoFixtures()[1]!.body
  t.equal((await fetch(`${falconet.url}/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })).status, 200)
  const file = join(falconet.dataDir, 'dead-letter', 'securityHub.jsonl')
  await waitFor(
    () => existsSync(file),
    15_000,
    () => `not dead-lettered:\n${falconet.logs()}`,
  )
  t.match(JSON.parse(readFileSync(file, 'utf8').trim()), { code: 'Rejected', reason: /InvalidInputException: Findings too large/ })
  t.equal(hub.calls.length, 1, 'not retried')
})
