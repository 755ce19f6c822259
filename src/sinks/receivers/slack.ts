import { consoleUrl, clip } from '../../route/notification.js'
import { facts, SEVERITY_COLOUR, escapeHtml, defineReceiver } from './types.js'

/**
 * Slack incoming webhook, Block Kit. Limits (Slack's): header 150, section text 3,000, field 2,000
 * characters, at most 10 fields, 50 blocks; about one message a second per webhook.
 */
export const slack = defineReceiver({
  type: 'slack',
  description: 'Block Kit: header (150), fields (severity, rule, cluster, namespace/pod, workload, image, node, IAM role, principal; ≤ 10 × 2,000), the output (3,000), the group, a context line, a button to the finding in the Security Hub console; ≤ 50 blocks',
  secrets: ['url'],
  requestsPerSecond: 1,
  build(n, ctx) {
    const f = n.findings[0]!
    const blocks: unknown[] = [
      { type: 'header', text: { type: 'plain_text', text: clip(`${n.severity}: ${n.title}`, 150), emoji: false } },
      {
        type: 'section',
        fields: facts(f, ctx)
          .slice(0, 10)
          .map(([k, v]) => ({ type: 'mrkdwn', text: clip(`*${k}*\n${escapeHtml(v)}`, 2000) })),
      },
      // The output is the attacker's text (command lines, file names): escaped, so <!channel> or a
      // disguised <https://evil|link> stays text.
      { type: 'section', text: { type: 'mrkdwn', text: '```' + clipEscaped(f.event.output.replace(/```/g, "'''"), 2990) + '```' } },
    ]
    if (n.findings.length > 1) {
      const lines = n.findings.slice(1, 20).map((x) => `• ${escapeHtml(x.event.rule)} — ${escapeHtml([x.event.workload.namespace, x.event.workload.pod].filter(Boolean).join('/') || (x.event.hostname ?? ''))} ×${x.count}`)
      blocks.push({ type: 'section', text: { type: 'mrkdwn', text: clip(`*Also in this group*\n${lines.join('\n')}${n.findings.length > 20 ? `\n…and ${n.findings.length - 20} more` : ''}`, 3000) } })
    }
    blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: clip(`${escapeHtml(n.summary)} · falconet`, 3000) }] }, { type: 'actions', elements: [{ type: 'button', text: { type: 'plain_text', text: 'Open in Security Hub' }, url: clip(consoleUrl(f.id, ctx.region, ctx.partition), 3000) }] })
    return { url: ctx.secrets.url!, body: { text: clip(`${n.severity}: ${n.summary}`, 3000), blocks: blocks.slice(0, 50) } }
  },
})

/** Mattermost and Rocket.Chat accept Slack's legacy `attachments` (not Block Kit). */
export const mattermost = defineReceiver({
  type: 'mattermost',
  description: "Mattermost and Rocket.Chat: Slack's `attachments`",
  secrets: ['url'],
  requestsPerSecond: 1,
  build(n, ctx) {
    const f = n.findings[0]!
    return {
      url: ctx.secrets.url!,
      body: {
        text: clip(`**${n.severity}: ${n.title}**`, 4000),
        attachments: [
          {
            fallback: clip(n.summary, 500),
            color: SEVERITY_COLOUR[n.severity],
            title: clip(n.title, 250),
            title_link: consoleUrl(f.id, ctx.region, ctx.partition),
            text: clipEscaped(f.event.output, 4000),
            fields: facts(f, ctx).map(([k, v]) => ({ title: k, value: clip(v, 500), short: v.length < 40 })),
            footer: clip(n.summary, 300),
          },
        ],
      },
    }
  },
})

/** Escape, then cut without leaving half an entity (&am…). */
function clipEscaped(text: string, max: number): string {
  return clip(escapeHtml(text), max).replace(/&[a-z]{0,4}…$/, '…')
}
