import t from 'tap'
import { readFileSync } from 'node:fs'
import { parse as parseYaml } from 'yaml'
import { parser } from '@prometheus-io/lezer-promql'
import type { SyntaxNode } from '@lezer/common'
import { errors } from '../../src/errors.js'
import { runningApp } from '../support/running-app.js'
import { parseExposition, type Sample } from '../support/exposition.js'

/**
 * The Grafana dashboard and the Prometheus alerts shipped with the chart: they parse (PromQL with
 * Prometheus' own grammar), and every metric, label and label value they query is one a running
 * falconet exposes — a renamed metric breaks this test, not an operator's dashboard at 3 a.m.
 */
const FILES = new URL('../../helm/falconet/files/', import.meta.url)
const dashboard = JSON.parse(readFileSync(new URL('grafana-dashboard.json', FILES), 'utf8'))
const alerts = parseYaml(readFileSync(new URL('prometheus-alerts.yaml', FILES), 'utf8'))

/** Labels Prometheus adds to every scraped series (targets), and metrics it makes itself. */
const TARGET_LABELS = new Set(['job', 'instance'])
const PROMETHEUS_METRICS = new Set(['up'])

interface Query {
  where: string
  expr: string
}

function dashboardQueries(): Query[] {
  const queries: Query[] = []
  const panels = dashboard.panels.flatMap((p: any) => [p, ...(p.panels ?? [])])
  for (const p of panels) for (const target of p.targets ?? []) queries.push({ where: `panel "${p.title}" ${target.refId}`, expr: target.expr })
  for (const v of dashboard.templating.list) {
    const q = typeof v.query === 'string' ? v.query : v.query?.query
    const m = /^label_values\((.+),\s*\w+\)$/.exec(q ?? '')
    if (m) queries.push({ where: `variable $${v.name}`, expr: m[1]! })
  }
  return queries
}

function alertQueries(): Query[] {
  return alerts.groups.flatMap((g: any) => g.rules.map((r: any) => ({ where: `alert ${r.alert} (${r.labels?.severity})`, expr: r.expr })))
}

/** Grafana's variables, as Prometheus would see them after Grafana substituted them. */
function substituted(expr: string): string {
  return expr.replaceAll('$__rate_interval', '5m').replaceAll('$job', '.*')
}

interface Parsed {
  errors: number
  metrics: string[]
  /** Every label a matcher or a by/without/on/ignoring clause names. */
  labels: string[]
  /** name, op, value of matchers on a named metric. */
  matchers: Array<{ metric: string; label: string; op: string; value: string }>
}

function parsePromql(expr: string): Parsed {
  const text = substituted(expr)
  const tree = parser.parse(text)
  const out: Parsed = { errors: 0, metrics: [], labels: [], matchers: [] }
  const src = (n: SyntaxNode) => text.slice(n.from, n.to)
  tree.iterate({
    enter: (ref) => {
      const n = ref.node
      if (n.type.isError) out.errors++
      if (n.name === 'Identifier' && n.parent?.name === 'VectorSelector') out.metrics.push(src(n))
      if (n.name === 'LabelName') out.labels.push(src(n))
      if (n.name === 'UnquotedLabelMatcher') {
        const metric = n.parent?.parent?.getChild('Identifier')
        const label = n.getChild('LabelName')
        const op = n.getChild('MatchOp')
        const value = n.getChild('StringLiteral')
        if (metric && label && op && value) out.matchers.push({ metric: src(metric), label: src(label), op: src(op), value: JSON.parse(src(value)) })
      }
    },
  })
  return out
}

t.test('the alert file is a list of Prometheus rule groups, each alert complete', async (t) => {
  t.ok(Array.isArray(alerts.groups) && alerts.groups.length > 0, 'groups: [...]')
  const names = alerts.groups.map((g: any) => g.name)
  t.same(names, [...new Set(names)], 'group names are unique')
  for (const group of alerts.groups) {
    t.ok(Array.isArray(group.rules) && group.rules.length > 0, `${group.name}: rules`)
    for (const r of group.rules) {
      const name = `${group.name}/${r.alert}`
      t.type(r.alert, 'string', `${name}: alert`)
      t.match(r.alert, /^[A-Z][A-Za-z0-9]+$/, `${name}: alert name`)
      t.type(r.expr, 'string', `${name}: expr`)
      t.match(r.for, /^\d+[smhdwy]$/, `${name}: for`)
      t.ok(['critical', 'warning', 'info'].includes(r.labels?.severity), `${name}: labels.severity`)
      t.ok(r.annotations?.summary?.length > 0 && r.annotations?.description?.length > 0, `${name}: summary and description`)
      t.same(Object.keys(r).sort(), ['alert', 'annotations', 'expr', 'for', 'labels'], `${name}: nothing else`)
    }
  }
  const alertNames = new Set(alerts.groups.flatMap((g: any) => g.rules.map((r: any) => r.alert)))
  for (const needed of ['FalconetSinkFailing', 'FalconetBacklogGrowing', 'FalconetOldestPendingTooOld', 'FalconetSpoolNearBudget', 'FalconetEksAuditLag', 'FalconetSourceSilent', 'FalconetEnrichmentNotSynced', 'FalconetAbsent']) {
    t.ok(alertNames.has(needed), `${needed} is there`)
  }
  const absent = alerts.groups.flatMap((g: any) => g.rules).find((r: any) => r.alert === 'FalconetAbsent')
  t.match(absent.expr, /absent\(up\{/, 'falconet down: absent up')
})

t.test('the dashboard: schemaVersion 39+, a ${datasource} variable and no hard-coded data source', async (t) => {
  t.ok(dashboard.schemaVersion >= 39)
  const ds = dashboard.templating.list.find((v: any) => v.name === 'datasource')
  t.match(ds, { type: 'datasource', query: 'prometheus' })
  const refs: unknown[] = []
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk)
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (k === 'datasource' && x && typeof x === 'object') refs.push(x)
        walk(x)
      }
    }
  }
  walk(dashboard)
  t.ok(refs.length > 10)
  t.same([...new Set(refs.map((r) => JSON.stringify(r)))], [JSON.stringify({ type: 'prometheus', uid: '${datasource}' })], 'every query uses the variable')
  const ids = dashboard.panels.map((p: any) => p.id)
  t.same(ids, [...new Set(ids)], 'panel ids are unique')
  for (const p of dashboard.panels) t.ok(p.gridPos.x + p.gridPos.w <= 24, `${p.title}: fits the grid`)
  const queried = new Set(dashboardQueries().flatMap((q) => parsePromql(q.expr).metrics))
  for (const topic of [
    'falconet_events_received_total',
    'falconet_records_rejected_total',
    'falconet_findings_total',
    'falconet_sink_requests_total',
    'falconet_sink_request_duration_seconds_bucket',
    'falconet_spool_pending_findings',
    'falconet_spool_oldest_pending_age_seconds',
    'falconet_spool_bytes',
    'falconet_spool_budget_bytes',
    'falconet_aggregation_deliveries_avoided_total',
    'falconet_enrich_synced',
    'falconet_enrich_cache_objects',
    'falconet_eks_audit_lag_seconds',
    'falconet_monitored_sources',
    'falconet_http_rate_limited_total',
  ]) {
    t.ok(queried.has(topic), `a panel shows ${topic}`)
  }
})

t.test('every metric, label and label value the dashboard and the alerts query is one a running falconet exposes', async (t) => {
  const app = await runningApp(t)
  const samples = parseExposition(await app.scrape())
  const byName = new Map<string, Sample[]>()
  for (const s of samples) byName.set(s.name, [...(byName.get(s.name) ?? []), s])
  const codes = new Set([...Object.keys(errors), 'FALCONET_ERR_INTERNAL', 'other'])

  for (const { where, expr } of [...dashboardQueries(), ...alertQueries()]) {
    const q = parsePromql(expr)
    t.equal(q.errors, 0, `${where}: PromQL parses`)
    t.ok(q.metrics.length > 0, `${where}: queries a metric`)
    const unknown = q.metrics.filter((m) => !byName.has(m) && !PROMETHEUS_METRICS.has(m))
    t.same(unknown, [], `${where}: every metric is exposed`)
    const known = new Set(q.metrics.flatMap((m) => (byName.get(m) ?? []).flatMap((s) => Object.keys(s.labels))))
    const labels = q.labels.filter((l) => !known.has(l) && !TARGET_LABELS.has(l))
    t.same(labels, [], `${where}: every label is one of its metrics'`)
    for (const m of q.matchers) {
      if (TARGET_LABELS.has(m.label) || !m.metric.startsWith('falconet_') || !['=', '!='].includes(m.op)) continue
      const values = new Set((byName.get(m.metric) ?? []).map((s) => s.labels[m.label]))
      t.ok(values.has(m.value) || (m.label === 'reason' && codes.has(m.value)), `${where}: ${m.metric}{${m.label}${m.op}"${m.value}"} is a value it has`)
    }
  }
})
