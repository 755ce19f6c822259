import { consoleUrl, clip } from '../../route/notification.js'
import { facts, defineReceiver } from './types.js'

/**
 * Microsoft Teams through a Power Automate Workflows webhook, with an Adaptive Card (the Office 365
 * connector MessageCard is retired). The webhook answers 202 even for a card Teams later rejects,
 * so the card's shape is what the tests check; cards are kept under 20 KB.
 */
export const MAX_CARD_BYTES = 20_000

export const teams = defineReceiver({
  type: 'teams',
  description: "Power Automate Workflows webhook with an Adaptive Card 1.4, under 20 KB. The webhook answers 202 even for a card Teams later rejects, so the card's shape is checked by tests",
  secrets: ['url'],
  requestsPerSecond: 1,
  build(n, ctx) {
    const f = n.findings[0]!
    const card = (outputChars: number) => ({
      $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
      type: 'AdaptiveCard',
      version: '1.4',
      body: [
        { type: 'TextBlock', size: 'Large', weight: 'Bolder', wrap: true, text: clip(`${n.severity}: ${n.title}`, 200), color: n.severity === 'CRITICAL' || n.severity === 'HIGH' ? 'Attention' : 'Warning' },
        { type: 'TextBlock', wrap: true, isSubtle: true, text: clip(n.summary, 500) },
        { type: 'FactSet', facts: facts(f, ctx).map(([title, value]) => ({ title, value: clip(value, 300) })) },
        // TextBlock renders markdown links: break the syntax in the attacker's text.
        { type: 'TextBlock', wrap: true, fontType: 'Monospace', text: clip(f.event.output.replace(/\]\(/g, '] (').replace(/</g, '‹').replace(/>/g, '›'), outputChars) },
      ],
      actions: [{ type: 'Action.OpenUrl', title: 'Open in Security Hub', url: consoleUrl(f.id, ctx.region, ctx.partition) }],
    })
    let body = message(card(4000))
    if (Buffer.byteLength(JSON.stringify(body)) > MAX_CARD_BYTES) body = message(card(1000))
    return { url: ctx.secrets.url!, body }
  },
})

function message(content: unknown) {
  return { type: 'message', attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive', contentUrl: null, content }] }
}
