import t from 'tap'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { Spool } from '../../src/delivery/spool.js'
import { findingPolicy } from '../../src/aggregate/policy.js'
import { createPipeline, type Ingest } from '../../src/pipeline/pipeline.js'
import { createAuditIngest } from '../../src/pipeline/audit.js'
import { auditDetectorOn } from '../../src/falconet.js'
import { validateConfig } from '../../src/config/load.js'
import { eksEvent } from '../support/audit.js'

// Detector memory is committed with the findings it produced: a batch the spool refuses (the
// client gets 503 and sends it again) must be detected again in full, not found "already seen".
t.test('a refused batch leaves first-seen and aws-auth baselines untouched; the retry detects it again', async (t) => {
  const spool = new Spool({ dir: join(mkdtempSync(join(tmpdir(), 'falconet-state-')), 'spool'), maxBytes: 1 << 30, durability: 'process', resendMs: {}, logger: pino({ level: 'silent' }), policy: findingPolicy({ windowMs: 86_400_000 }) })
  t.teardown(() => spool.close())
  const config = validateConfig({ audit: { firstSeenLearningDays: 0 } })
  const pipeline = createPipeline({ keyFields: {}, severityMapping: config.severityMapping, windowMs: 86_400_000 }, spool, ['probe'])
  let refuse = true
  const committed: string[] = []
  const ingest: Ingest = async (events, options) => {
    if (refuse) throw new Error('spool full') // what the spool throws at its budget, as the source sees it
    committed.push(...events.map((e) => e.rule))
    return pipeline(events, options)
  }
  const audit = createAuditIngest(auditDetectorOn(config.audit, spool.state), ingest, spool)
  const batch = [
    eksEvent({ auditID: 'exec-1', verb: 'create', objectRef: { resource: 'pods', subresource: 'exec', namespace: 'prod', name: 'web-1' } }),
    eksEvent({ auditID: 'auth-1', verb: 'update', objectRef: { resource: 'configmaps', namespace: 'kube-system', name: 'aws-auth' }, requestObject: { kind: 'ConfigMap', metadata: { name: 'aws-auth' }, data: { mapRoles: '- rolearn: arn:aws:iam::111122223333:role/Intruder' } } }),
  ]

  await t.rejects(audit(batch), /spool full/)
  t.equal(spool.state.get('first-seen:exec:arn:aws:iam::111122223333:role/Admin'), undefined, 'nothing of the refused batch is remembered')
  t.equal(spool.state.get('aws-auth:data'), undefined)

  refuse = false
  await audit(batch)
  t.ok(committed.includes('Principal exec-ed into a pod for the first time'), 'the retry still finds the first exec')
  t.ok(committed.includes('aws-auth ConfigMap changed'))
  const finding = spool
    .due('probe', 100, Date.now(), true)
    .items.map((d) => d.state)
    .find((s) => s.event.rule === 'aws-auth ConfigMap changed')
  t.match(finding?.event.output, /\+\[- rolearn: arn:aws:iam::111122223333:role\/Intruder\]/, 'with the added mapRoles line, not "unchanged"')
  t.type(spool.state.get('first-seen:exec:arn:aws:iam::111122223333:role/Admin'), 'number', 'committed with the findings')
  t.same(spool.state.get('aws-auth:data'), { mapRoles: '- rolearn: arn:aws:iam::111122223333:role/Intruder' })

  // After a restart (a new ingest over the same spool) the committed baseline holds.
  committed.length = 0
  const restarted = createAuditIngest(auditDetectorOn(config.audit, spool.state), ingest, spool)
  await restarted([eksEvent({ auditID: 'exec-2', verb: 'create', objectRef: { resource: 'pods', subresource: 'exec', namespace: 'prod', name: 'web-2' } })])
  t.notOk(committed.includes('Principal exec-ed into a pod for the first time'), 'the second exec is not new')
})
