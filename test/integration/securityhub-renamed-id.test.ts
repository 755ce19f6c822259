import t from 'tap'
import { existsSync, mkdtempSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { EnableSecurityHubCommand } from '@aws-sdk/client-securityhub'
import { Spool } from '../../src/delivery/spool.js'
import { DeadLetterFile } from '../../src/delivery/dead-letter.js'
import { fold, idFor, toFinding, type FindingState } from '../../src/aggregate/aggregator.js'
import { findingPolicy } from '../../src/aggregate/policy.js'
import { DEFAULT_SEVERITY_MAPPING } from '../../src/model/severity.js'
import { securityHubRig } from '../support/rig.js'
import { pendingIn, startFalconet } from '../support/falconet.js'
import { waitFor } from '../support/net.js'
import { allFindings } from '../support/securityhub.js'
import { assertValidAsff } from '../support/asff.js'
import { silent, testEvent } from '../support/runner.js'

/**
 * The upgrade across the Security Hub sink's rename (id and config key `securityhub` →
 * `securityHub`, src/delivery/renamed-sinks.ts): a data dir the previous version left — findings
 * still owed to `securityhub` in the spool, some already delivered, a dead letter in
 * `dead-letter/securityhub.jsonl` — is opened by this version. Everything owed reaches Security
 * Hub (moto) once, nothing delivered before is sent again, and the old dead letter is listed and
 * redriven under the new id (and by its old one).
 */
const ADMIN = 'ADMIN-TOKEN-FOR-THE-RENAME'
const options = { keyFields: {}, severityMapping: DEFAULT_SEVERITY_MAPPING, windowMs: 3_600_000 }

t.test('a data dir written under the old id: pending findings delivered once, the old dead letter redriven', async (t) => {
  const { client, proxy, env } = await securityHubRig(t, { FALCONET__SINKS__SECURITY_HUB__BATCH__FLUSH_INTERVAL_MS: '100', FALCONET_ADMIN_TOKEN: ADMIN, FALCONET__SERVER__RATE_LIMIT__MANAGEMENT: '0' })
  await client.send(new EnableSecurityHubCommand({}))
  const dataDir = mkdtempSync(join(tmpdir(), 'falconet-renamed-'))

  // What the previous version left: six findings owed to `securityhub`, two of them delivered,
  // and a seventh it dead-lettered (its file named by the old id).
  const old = new Spool({ dir: join(dataDir, 'spool'), maxBytes: 256 * 1024 * 1024, durability: 'process', resendMs: { securityhub: 60_000 }, logger: silent, policy: findingPolicy({ windowMs: 3_600_000 }) })
  const ids: string[] = []
  let dead: FindingState | undefined
  for (let i = 0; i < 7; i++) {
    const e = testEvent(i, { rule: `Renamed sink ${i}`, priority: 'Critical' })
    const id = idFor(e, options)
    ids.push(id)
    await old.record([{ id, apply: (p) => (dead = fold(p, e, id, options)) }], i < 6 ? ['securityhub'] : [])
  }
  const owed = old.due('securityhub', 100, Date.now()).items
  t.equal(owed.length, 6)
  await old.acknowledge(
    'securityhub',
    owed.filter((d) => d.state.id === ids[0] || d.state.id === ids[1]).map((d) => ({ id: d.state.id, version: d.state.version })),
    Date.now(),
  )
  const lost = old.due('securityhub', 100, Date.now(), true).items.length
  t.equal(lost, 4, 'four still owed when the old version stopped')
  await old.close()
  await new DeadLetterFile(dataDir, silent).write('securityhub', [{ findingId: ids[6]!, code: 'InvalidInput', reason: 'refused then', payload: {}, item: toFinding(dead!) }])

  const falconet = await startFalconet(env, dataDir)
  t.teardown(() => falconet.stop())
  await waitFor(
    async () => (await pendingIn(falconet.url, 'securityHub')) === 0 && proxy.imports.forwarded > 0,
    60_000,
    () => `never drained:\n${falconet.logs()}`,
  )
  const imported = await allFindings(client)
  t.same(imported.map((f) => f.Id).sort(), ids.slice(2, 6).sort(), 'exactly the four owed findings, none delivered before')
  for (const f of imported) assertValidAsff(t, f, f.Id!)
  const sent = proxy.bodies.flatMap((b) => (JSON.parse(b.toString()) as { Findings: Array<{ Id: string }> }).Findings.map((f) => f.Id))
  t.equal(sent.length, 4, 'each sent once')
  t.equal(new Set(sent).size, 4)
  t.notOk(/deprecated/.test(falconet.logs()), 'no deprecation warning: the config used the new key')

  // The dead letter: listed and redriven under the new id, asked for by the old one.
  const api = (path: string, init: RequestInit = {}) => fetch(`${falconet.url}${path}`, { ...init, headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json', ...(init.headers as Record<string, string>) } })
  const letters = (await (await api('/api/dead-letters')).json()) as { items: Array<{ sink: string; id: string }> }
  t.match(letters.items, [{ sink: 'securityHub', id: ids[6] }])
  t.same(readdirSync(join(dataDir, 'dead-letter')), ['securityHub.jsonl'])
  const redriven = (await (await api('/api/dead-letters/redrive', { method: 'POST', body: '{"sink":"securityhub"}' })).json()) as { requeued: number }
  t.equal(redriven.requeued, 1)
  await waitFor(
    async () => (await allFindings(client)).length === 5,
    60_000,
    () => `redriven letter not imported:\n${falconet.logs()}`,
  )
  await waitFor(
    async () => (await pendingIn(falconet.url, 'securityHub')) === 0,
    30_000,
    () => falconet.logs(),
  )
  await falconet.stop()

  // Restarted: nothing is owed under either id, so nothing is sent again.
  const again = await startFalconet(env, dataDir)
  t.teardown(() => again.stop())
  t.equal(await pendingIn(again.url, 'securityHub'), 0)
  t.equal(existsSync(join(dataDir, 'dead-letter', 'securityhub.jsonl')), false)
  const count = proxy.bodies.flatMap((b) => (JSON.parse(b.toString()) as { Findings: unknown[] }).Findings).length
  t.equal(count, 5, 'four owed findings and the redriven one, each imported once')
})
