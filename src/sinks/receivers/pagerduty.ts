import { Type } from 'typebox'
import { consoleUrl, clip } from '../../route/notification.js'
import { defineReceiver } from './types.js'

/**
 * PagerDuty Events API v2: one event per finding, `dedup_key` = the finding Id, so a finding that
 * repeats updates its incident instead of opening new ones.
 */
const SEVERITY: Record<string, string> = { CRITICAL: 'critical', HIGH: 'error', MEDIUM: 'warning', LOW: 'info', INFORMATIONAL: 'info' }

export const pagerduty = defineReceiver({
  type: 'pagerduty',
  description: 'Events API v2, one event per finding, `dedup_key` = finding Id (repeats update the incident), summary ≤ 1,024, severity mapped, source/component/group/class, custom_details, link; `resolve` when archived',
  options: { url: Type.Optional(Type.String({ description: 'Events endpoint override (EU service region, tests). Not a secret.' })) },
  secrets: ['routingKey'],
  perFinding: true,
  tracksLifecycle: true,
  requestsPerSecond: 2,
  build(n, ctx) {
    const f = n.findings[0]!
    const w = f.event.workload
    return {
      url: typeof ctx.options.url === 'string' ? ctx.options.url : 'https://events.pagerduty.com/v2/enqueue',
      body: {
        routing_key: ctx.secrets.routingKey,
        // An archived finding (its window closed with no repeat) resolves its incident.
        event_action: f.archived ? 'resolve' : 'trigger',
        dedup_key: f.id,
        client: 'falconet',
        client_url: consoleUrl(f.id, ctx.region, ctx.partition),
        payload: {
          summary: clip(`${f.event.rule}: ${f.event.output}`, 1024),
          source: clip(w.cluster ?? ctx.cluster ?? f.event.hostname ?? 'falconet', 255),
          severity: SEVERITY[f.severity] ?? 'warning',
          timestamp: f.lastObservedAt,
          component: clip([w.namespace, w.owner?.name ?? w.pod].filter(Boolean).join('/') || (f.event.hostname ?? f.event.source), 255),
          group: clip(w.namespace ?? f.event.source, 255),
          class: clip(f.event.rule, 255),
          custom_details: { count: f.count, pods: f.distinctPods, node: w.node ?? f.event.hostname, iam: w.iam?.roleArn ?? w.iam?.via, principal: f.event.actor?.arn ?? f.event.actor?.username, tags: f.event.tags.join(','), finding_id: f.id },
        },
        links: [{ href: consoleUrl(f.id, ctx.region, ctx.partition), text: 'Finding in Security Hub' }],
      },
    }
  },
})

/** Opsgenie (its API is being retired: kept simple). One alert per finding, alias = finding Id. */
export const opsgenie = defineReceiver({
  type: 'opsgenie',
  description: 'one alert per finding, `alias` = finding Id (its API is being retired: kept minimal)',
  options: { url: Type.Optional(Type.String({ description: 'Alerts endpoint override (EU instance: https://api.eu.opsgenie.com/v2/alerts, tests). Not a secret.' })) },
  secrets: ['routingKey'],
  perFinding: true,
  requestsPerSecond: 2,
  build(n, ctx) {
    const f = n.findings[0]!
    const priority: Record<string, string> = { CRITICAL: 'P1', HIGH: 'P2', MEDIUM: 'P3', LOW: 'P4', INFORMATIONAL: 'P5' }
    return {
      url: typeof ctx.options.url === 'string' ? ctx.options.url : 'https://api.opsgenie.com/v2/alerts',
      headers: { authorization: `GenieKey ${ctx.secrets.routingKey}` },
      body: {
        message: clip(`${f.severity}: ${f.event.rule}`, 130),
        alias: clip(f.id, 512),
        description: clip(f.event.output, 15_000),
        priority: priority[f.severity],
        source: 'falconet',
        tags: f.event.tags.slice(0, 20),
        details: { count: String(f.count), namespace: f.event.workload.namespace ?? '', pod: f.event.workload.pod ?? '' },
      },
    }
  },
})
