import t from 'tap'
import { runningApp } from '../support/running-app.js'
import { parseExposition, seriesOf } from '../support/exposition.js'

/**
 * Issue #9's list, metric by metric: after fixtures went in through every input, /metrics has each
 * one, with exactly its labels, and the series the inputs must have produced.
 */
const REQUIRED: Array<[name: string, labels: string[]]> = [
  // events received by source and endpoint; records parsed and rejected by reason
  ['falconet_events_received_total', ['route', 'source']],
  ['falconet_records_rejected_total', ['reason', 'route', 'source']],
  ['falconet_fluentbit_records_total', ['kind']],
  ['falconet_fluentbit_chunks_total', ['result']],
  ['falconet_http_requests_total', ['code', 'route']],
  // findings produced by severity
  ['falconet_findings_total', ['kind', 'severity']],
  // sink calls / errors / latency per sink
  ['falconet_sink_requests_total', ['outcome', 'sink']],
  ['falconet_sink_request_duration_seconds_bucket', ['le', 'sink']],
  ['falconet_sink_findings_total', ['result', 'sink']],
  // spool depth and age of the oldest item
  ['falconet_spool_pending_findings', ['sink']],
  ['falconet_spool_oldest_pending_age_seconds', ['sink']],
  ['falconet_spool_bytes', []],
  ['falconet_spool_budget_bytes', []],
  // aggregation savings
  ['falconet_aggregation_deliveries_avoided_total', ['sink']],
  ['falconet_aggregation_bytes_avoided_total', ['sink']],
  // enrichment cache size and misses
  ['falconet_enrich_synced', []],
  ['falconet_enrich_cache_objects', ['kind']],
  ['falconet_enrich_lookups_total', ['result']],
  // audit-poller lag
  ['falconet_eks_audit_lag_seconds', []],
  ['falconet_eks_audit_events_total', []],
  // rate-limited requests
  ['falconet_http_rate_limited_total', ['route']],
  // monitor the monitor
  ['falconet_monitored_sources', ['source_kind', 'state']],
  ['falconet_source_last_seen_timestamp_seconds', ['source_kind']],
]

t.test('every required metric is exposed with its labels after fixtures went through every input', async (t) => {
  const app = await runningApp(t)
  const samples = parseExposition(await app.scrape())
  for (const [name, labels] of REQUIRED) {
    const series = seriesOf(samples, name).filter((s) => s.name === name)
    t.ok(series.length > 0, `${name} is exposed`)
    for (const s of series) t.same(Object.keys(s.labels).sort(), labels, `${name} labels`)
  }
  const value = (name: string, labels: Record<string, string>) => samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value

  t.equal(value('falconet_events_received_total', { source: 'falco', route: '/' }), 31, 'the 31 Falco fixtures on /')
  t.equal(value('falconet_events_received_total', { source: 'falco', route: '/falco' }), 2, 'a repeat and a heartbeat on /falco')
  t.equal(value('falconet_events_received_total', { source: 'fluent-bit', route: '/fluent-bit/*' }), 1)
  t.equal(value('falconet_events_received_total', { source: 'fluent-bit', route: '/fluent-bit' }), 1, 'the readable record of the chunk with a malformed line')
  t.equal(value('falconet_events_received_total', { source: 'k8s-audit', route: '/k8s-audit' }), 1)
  t.equal(value('falconet_events_received_total', { source: 'test', route: '/test' }), 1)
  t.equal(value('falconet_events_received_total', { source: 'eks-audit', route: 'cloudwatch-logs' }), 2, "the poller's two audit events")
  t.equal(value('falconet_records_rejected_total', { source: 'falco', route: '/falco', reason: 'FALCONET_ERR_INVALID_ALERT' }), 1, 'a refused alert, by its error code')
  t.equal(value('falconet_records_rejected_total', { source: 'fluent-bit', route: '/fluent-bit', reason: 'FALCONET_ERR_INVALID_RECORDS' }), 1, 'the malformed line')
  t.equal(value('falconet_http_requests_total', { route: '/falco', code: '400' }), 1)
  t.equal(value('falconet_http_rate_limited_total', { route: '/test' }), 1, 'the rate limiter counts by route pattern')
  t.equal(value('falconet_records_rejected_total', { source: 'test', route: '/test', reason: 'FALCONET_ERR_RATE_LIMITED' }), 1)
  t.ok(value('falconet_findings_total', { severity: 'CRITICAL', kind: 'new' })! > 0, 'findings by severity')
  t.equal(value('falconet_findings_total', { severity: 'MEDIUM', kind: 'new' }) !== undefined, true)
  t.equal(value('falconet_enrich_synced', {}), 1)
  t.ok(value('falconet_enrich_lookups_total', { result: 'miss' })! > 0, 'misses counted')
  t.ok(value('falconet_eks_audit_lag_seconds', {})! >= 30, 'lag: now minus the newest audit event read')
  t.equal(value('falconet_monitored_sources', { source_kind: 'eks-audit', state: 'active' }), 1, 'the poller is a known source')
  t.ok(value('falconet_monitored_sources', { source_kind: 'falco', state: 'active' })! >= 2, 'the Falcos are known sources')
  t.ok(value('falconet_monitored_sources', { source_kind: 'fluent-bit', state: 'active' })! >= 1, 'so are the Fluent Bits')
  t.ok(value('falconet_source_last_seen_timestamp_seconds', { source_kind: 'falco' })! > Date.now() / 1000 - 60)
})
