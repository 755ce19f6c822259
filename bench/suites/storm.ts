import { alertBody } from '../../test/support/alerts.js'
import { paced } from '../lib/paced.js'
import { securityHubSink, webhookSink } from '../lib/sinks.js'
import { startFalconet } from '../lib/targets.js'
import { OneCallPerAlert } from '../lib/naive.js'
import type { Settings } from '../lib/settings.js'

/**
 * 3. Storm economics: `stormAlerts` alerts of one rule from `stormPods` pods of one Deployment,
 * spread evenly over `stormSecs` (10,000 in a minute by default), sent at the same moments to
 * falconet (default delivery settings, a Slack receiver with its defaults, everything routed to
 * it) and to one-call-per-alert. Each side has its own local Security Hub enforcing the API quota
 * (10 calls/s, burst 30) and its own chat sink. falconet is then stopped with SIGTERM, which
 * flushes what it still holds, so the counts are final.
 */
export interface Side {
  calls: number
  throttled: number
  findings: number
  /** Alerts the imported findings account for (falconet: the findings' counts; per alert: one each). */
  alertsInFindings: number
  lost: number
  chatMessages: number
  /** Chat messages the local chat sink did not take (connection errors under the burst). */
  chatFailed: number
}

export interface StormResult {
  alerts: number
  pods: number
  secs: number
  accepted: number
  falconet: Side
  perAlert: Side
}

export async function stormSuite(settings: Settings): Promise<StormResult> {
  const quota = { perSecond: 10, burst: 30 }
  const hub = await securityHubSink({ quota })
  const chat = await webhookSink()
  const naiveHub = await securityHubSink({ quota })
  const naiveChat = await webhookSink()
  const naive = new OneCallPerAlert(naiveHub.url, `${naiveChat.url}/services/T0/B0/X`)
  const falconet = await startFalconet({
    securityHub: hub.url,
    config: { receivers: [{ name: 'chat', type: 'slack', urlEnv: 'BENCH_CHAT_URL' }], routing: { receivers: ['chat'] } },
    env: { BENCH_CHAT_URL: `${chat.url}/services/T0/B0/X` },
  })
  try {
    const letters = 'bcdfghjklm'
    const pods = Array.from({ length: settings.stormPods }, (_, i) => `web-6d4cf56db6-q${letters[Math.floor(i / 10) % 10]}${letters[i % 10]}z${letters[Math.floor(i / 100) % 10]}`)
    const bodies = Array.from({ length: settings.stormAlerts }, (_, i) => alertBody('15-', { pod: pods[i % pods.length]!, seq: i }))
    const sent = await paced({
      url: falconet.url,
      rate: settings.stormAlerts / settings.stormSecs,
      count: bodies.length,
      connections: 16,
      body: (i) => bodies[i]!,
      onSend: (i) => naive.receive(bodies[i]!),
    })
    await falconet.stop('SIGTERM')
    await naive.settle()
    const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0)
    return {
      alerts: bodies.length,
      pods: pods.length,
      secs: settings.stormSecs,
      accepted: sent.ok,
      falconet: { calls: hub.calls + hub.throttled, throttled: hub.throttled, findings: hub.ids.size, alertsInFindings: sum(hub.counts), lost: sent.sent - sent.ok, chatMessages: chat.calls, chatFailed: 0 },
      perAlert: { calls: naiveHub.calls + naiveHub.throttled, throttled: naiveHub.throttled, findings: naiveHub.ids.size, alertsInFindings: naiveHub.ids.size, lost: naive.lost, chatMessages: naive.chatMessages, chatFailed: naive.chatFailed },
    }
  } finally {
    await falconet.stop()
    await Promise.all([hub.close(), chat.close(), naiveHub.close(), naiveChat.close()])
  }
}
