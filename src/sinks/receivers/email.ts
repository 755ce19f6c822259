import { Type } from 'typebox'
import type { SESv2Client } from '@aws-sdk/client-sesv2'
import { awsOutcome } from '../../aws/errors.js'
import { consoleUrl, clip } from '../../route/notification.js'
import { facts, escapeHtml, defineReceiver } from './types.js'

/**
 * Email through Amazon SES v2 (SendEmail, plain text + HTML), one message per notification group
 * like the chat receivers. The sender must be an SES-verified identity; IAM: ses:SendEmail.
 * AWS_ENDPOINT_URL_SESV2 redirects it (tests: moto).
 */
let client: Promise<SESv2Client> | undefined

export const email = defineReceiver({
  type: 'email',
  description: 'SES v2 SendEmail, text + HTML, same grouping; IAM `ses:SendEmail` on a verified sender',
  options: {
    from: Type.String({ minLength: 3, description: 'The sender: an SES-verified identity.' }),
    to: Type.Array(Type.String({ minLength: 3 }), { minItems: 1, description: 'Recipients.' }),
  },
  secrets: [],
  needs: { region: true },
  requestsPerSecond: 1,
  async send(n, ctx, signal) {
    const from = ctx.options.from as string | undefined
    const to = ctx.options.to as string[] | undefined
    if (!from || !to?.length) return { kind: 'drop', reason: 'email receiver needs from and to' }
    const { SESv2Client, SendEmailCommand } = await import('@aws-sdk/client-sesv2')
    const ses = await (client ??= Promise.resolve(new SESv2Client({ region: ctx.region, maxAttempts: 1 })))
    const f = n.findings[0]!
    const link = consoleUrl(f.id, ctx.region, ctx.partition)
    const rows = facts(f, ctx)
    const text = [
      n.summary,
      '',
      ...rows.map(([k, v]) => `${k}: ${v}`),
      '',
      f.event.output,
      '',
      `Security Hub: ${link}`,
      ...(n.findings.length > 1
        ? [
            '',
            `Also in this group: ${n.findings
              .slice(1)
              .map((x) => x.event.rule)
              .join(', ')}`,
          ]
        : []),
    ].join('\n')
    const html = `<h2>${esc(`${n.severity}: ${n.title}`)}</h2><p>${esc(n.summary)}</p><table>${rows.map(([k, v]) => `<tr><th align="left">${esc(k)}</th><td>${esc(v)}</td></tr>`).join('')}</table><pre>${esc(clip(f.event.output, 20_000))}</pre><p><a href="${esc(link)}">Open in Security Hub</a></p>`
    try {
      await ses.send(
        new SendEmailCommand({
          FromEmailAddress: from,
          Destination: { ToAddresses: to },
          Content: { Simple: { Subject: { Data: clip(`[falconet] ${n.severity}: ${n.summary}`, 200) }, Body: { Text: { Data: text }, Html: { Data: html } } } },
        }),
        { abortSignal: signal },
      )
      return { kind: 'ok' }
    } catch (err) {
      return awsOutcome(err)
    }
  },
})

/** HTML text and attribute values: the chat escape, plus quotes. */
function esc(s: string): string {
  return escapeHtml(s).replace(/"/g, '&quot;')
}
