import t from 'tap'
import { createHmac } from 'node:crypto'
import { group, summarize, consoleUrl } from '../../src/route/notification.js'
import { slack, mattermost } from '../../src/sinks/receivers/slack.js'
import { teams, MAX_CARD_BYTES } from '../../src/sinks/receivers/teams.js'
import { pagerduty, opsgenie } from '../../src/sinks/receivers/pagerduty.js'
import { discord, googlechat } from '../../src/sinks/receivers/discord.js'
import { webhook } from '../../src/sinks/receivers/webhook.js'
import { fold, idFor, toFinding } from '../../src/aggregate/aggregator.js'
import { DEFAULT_SEVERITY_MAPPING } from '../../src/model/severity.js'
import type { Finding } from '../../src/model/finding.js'
import type { ReceiverContext } from '../../src/sinks/receivers/types.js'
import { normalizeFalcoAlert } from '../../src/sources/falco-alert.js'
import { parseJsonLossless } from '../../src/sources/lossless-json.js'
import { falcoFixture } from '../support/fixtures.js'

const options = { keyFields: {}, severityMapping: DEFAULT_SEVERITY_MAPPING, windowMs: 86_400_000 }
const ctx: ReceiverContext = { region: 'eu-west-1', partition: 'aws', cluster: 'prod-eu', secrets: { url: 'https://hooks.example/secret-path', routingKey: 'R0UTINGKEY', secret: 'sh4red' }, options: {} }

/** A finding from a real alert, repeated across pods: what a storm looks like after aggregation. */
function storm(n: number, pods: number, output?: string): Finding {
  let state
  for (let i = 0; i < n; i++) {
    const alert = parseJsonLossless(falcoFixture('01-').body) as Record<string, any>
    alert.output_fields['k8s.pod.name'] = `web-6d4cf56db6-p${String(i % pods).padStart(4, 'b')}`
    alert.output_fields['k8s.ns.name'] = 'prod'
    alert.priority = 'Critical'
    if (output) alert.output = output
    const e = normalizeFalcoAlert(alert)
    state = fold(state, e, idFor(e, options), options)
  }
  return toFinding(state!)
}

t.test('a grouped notification says how many events, pods and where', async (t) => {
  const [n] = group([storm(1243, 17)], ['rule', 'namespace', 'workload'])
  t.equal(n!.events, 1243)
  t.match(n!.summary, /^Terminal shell in container ×1,243 on 17 pods of workload web in prod at /)
  t.equal(n!.severity, 'CRITICAL')
})

t.test('Slack Block Kit within its limits, with a button to the finding', async (t) => {
  const big = storm(3, 3, 'x'.repeat(10_000) + ' <script>')
  const body = slack.build!(summarize('k', [big, ...Array.from({ length: 40 }, () => storm(1, 1))]), ctx).body as any
  t.ok(body.blocks.length <= 50)
  const header = body.blocks.find((b: any) => b.type === 'header')
  t.ok(header.text.text.length <= 150)
  for (const b of body.blocks) {
    if (b.text) t.ok(b.text.text.length <= 3000, `${b.type} text ≤ 3000`)
    for (const f of b.fields ?? []) t.ok(f.text.length <= 2000)
    t.ok((b.fields ?? []).length <= 10)
  }
  const button = body.blocks.find((b: any) => b.type === 'actions').elements[0]
  t.equal(button.url, consoleUrl(big.id, 'eu-west-1'))
  t.match(button.url, /^https:\/\/console\.aws\.amazon\.com\/securityhub\/home\?region=eu-west-1#\/findings\?search=Id%3D/)
  t.notMatch(JSON.stringify(body), /<script>/, 'mrkdwn control characters escaped')
  const att = mattermost.build!(summarize('k', [big]), ctx).body as any
  t.equal(att.attachments[0].title, 'Terminal shell in container', 'Mattermost / Rocket.Chat get attachments')
})

t.test('Teams: an Adaptive Card 1.4 in a Workflows message, under 20 KB even for a huge output', async (t) => {
  const body = teams.build!(summarize('k', [storm(2, 2, 'y'.repeat(100_000))]), ctx).body as any
  t.equal(body.type, 'message')
  t.equal(body.attachments[0].contentType, 'application/vnd.microsoft.card.adaptive')
  t.match(body.attachments[0].content, { type: 'AdaptiveCard', version: '1.4', $schema: 'http://adaptivecards.io/schemas/adaptive-card.json' })
  t.ok(body.attachments[0].content.body.every((e: any) => ['TextBlock', 'FactSet'].includes(e.type)))
  t.equal(body.attachments[0].content.actions[0].type, 'Action.OpenUrl')
  t.ok(Buffer.byteLength(JSON.stringify(body)) < MAX_CARD_BYTES)
})

t.test('PagerDuty Events v2: required fields, dedup_key is the finding Id, summary ≤ 1024', async (t) => {
  const f = storm(5, 2, 'z'.repeat(5000))
  const req = pagerduty.build!(summarize(f.id, [f]), ctx)
  t.equal(req.url, 'https://events.pagerduty.com/v2/enqueue')
  const body = req.body as any
  t.match(body, { routing_key: 'R0UTINGKEY', event_action: 'trigger', dedup_key: f.id, payload: { severity: 'critical', source: 'prod-eu', class: 'Terminal shell in container', component: 'prod/web' } })
  t.ok(body.payload.summary.length <= 1024)
  t.equal(body.payload.custom_details.count, 5)
  t.equal(body.links[0].href, consoleUrl(f.id, 'eu-west-1'))
  const og = opsgenie.build!(summarize(f.id, [f]), ctx)
  t.match(og, { headers: { authorization: 'GenieKey R0UTINGKEY' }, body: { alias: f.id, priority: 'P1' } })
})

t.test('Discord stays within 6,000 characters; Google Chat threads a group together', async (t) => {
  const f = storm(2, 2, 'w'.repeat(20_000))
  const embed = (discord.build!(summarize('k', [f]), ctx).body as any).embeds[0]
  const total = embed.title.length + embed.description.length + embed.footer.text.length + embed.fields.reduce((s: number, x: any) => s + x.name.length + x.value.length, 0)
  t.ok(total <= 6000, `${total} characters`)
  const chat = googlechat.build!(summarize('rule=x,namespace=prod', [f]), ctx)
  t.match(chat.url, /messageReplyOption=REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD/)
  t.equal((chat.body as any).thread.threadKey, 'rule=x,namespace=prod')
  t.equal((chat.body as any).cardsV2[0].card.header.title, 'CRITICAL: Terminal shell in container')
})

t.test('webhook: the findings as JSON with an HMAC signature the receiver can verify', async (t) => {
  const f = storm(1, 1)
  const req = webhook.build!(summarize('k', [f]), { ...ctx, options: { headers: { 'x-team': 'sec' } } })
  const body = JSON.stringify(req.body)
  const ts = req.headers!['x-falconet-timestamp']!
  t.equal(req.headers!['x-falconet-signature'], `sha256=${createHmac('sha256', 'sh4red').update(`${ts}.${body}`).digest('hex')}`)
  t.equal(req.headers!['x-team'], 'sec')
  t.equal((req.body as any).findings[0].id, f.id)
})

t.test('group_by: one notification per distinct combination of the labels', async (t) => {
  const shell = storm(3, 3)
  const other = (() => {
    const alert = parseJsonLossless(falcoFixture('02-').body) as Record<string, any>
    alert.output_fields['k8s.ns.name'] = 'prod'
    const e = normalizeFalcoAlert(alert)
    return toFinding(fold(undefined, e, idFor(e, options), options))
  })()
  t.equal(group([shell, other], ['namespace']).length, 1, 'by namespace: one message for both rules')
  t.equal(group([shell, other], ['rule', 'namespace']).length, 2, 'by rule too: two')
  t.match(group([shell, other], ['namespace'])[0]!.title, '2 rules')
})

t.test('an archived finding resolves its PagerDuty incident and is ARCHIVED in ASFF', async (t) => {
  const { toAsff } = await import('../../src/asff/build.js')
  const { validateFinding } = await import('../support/asff-validator.js')
  const f = { ...storm(2, 1), archived: true }
  t.equal((pagerduty.build!(summarize(f.id, [f]), ctx).body as any).event_action, 'resolve')
  const asff = toAsff(f, { partition: 'aws', region: 'eu-west-1', accountId: '111122223333', productArn: 'arn:aws:securityhub:eu-west-1:111122223333:product/111122223333/default', severityMapping: DEFAULT_SEVERITY_MAPPING })
  t.equal(asff.RecordState, 'ARCHIVED')
  t.same(validateFinding(asff), [])
})

t.test("the attacker's text cannot mention a channel, fake a link or inject markup", async (t) => {
  const hostile = storm(1, 1, 'cat /etc/shadow <!channel> <https://evil.example|Open in Security Hub> & [click](https://evil.example) <b>x</b>')
  const n = summarize('k', [hostile])
  const slackText = JSON.stringify(slack.build!(n, ctx).body)
  t.notMatch(slackText, /<!channel>|<https:\/\/evil/, 'Slack: escaped')
  t.match(slackText, /&lt;!channel&gt;/)
  t.notMatch(JSON.stringify(googlechat.build!(n, ctx).body), /<b>|<https/, 'Google Chat: HTML-escaped')
  t.notMatch(JSON.stringify(teams.build!(n, ctx).body), /\]\(https:\/\/evil/, 'Teams: no markdown link')
})
