import { consoleUrl, clip } from '../../route/notification.js'
import { facts, SEVERITY_COLOUR, escapeHtml, defineReceiver } from './types.js'

/** Discord webhook embeds: title 256, description 4,096, 25 fields (name 256, value 1,024), 6,000 characters in all. */
export const discord = defineReceiver({
  type: 'discord',
  description: 'one embed, ≤ 6,000 characters in all',
  secrets: ['url'],
  requestsPerSecond: 1,
  build(n, ctx) {
    const f = n.findings[0]!
    const title = clip(`${n.severity}: ${n.title}`, 256)
    const fields = facts(f, ctx)
      .slice(0, 25)
      .map(([name, value]) => ({ name: clip(name, 256), value: clip(value, 1024), inline: value.length < 40 }))
    const footer = clip(n.summary, 2048)
    const used = title.length + footer.length + fields.reduce((s, x) => s + x.name.length + x.value.length, 0)
    const description = clip(f.event.output, Math.max(100, Math.min(4096, 6000 - used - 10)))
    return {
      url: ctx.secrets.url!,
      body: { embeds: [{ title, url: consoleUrl(f.id, ctx.region, ctx.partition), description, color: parseInt(SEVERITY_COLOUR[n.severity]!.slice(1), 16), fields, footer: { text: footer }, timestamp: new Date(Date.parse(n.until)).toISOString() }] },
    }
  },
})

/** Google Chat webhook, cardsV2; `threadKey` = the group, so repeats of one group thread together. */
export const googlechat = defineReceiver({
  type: 'googlechat',
  description: 'cardsV2, `threadKey` = the group, so repeats thread together',
  secrets: ['url'],
  requestsPerSecond: 1,
  build(n, ctx) {
    const f = n.findings[0]!
    const url = new URL(ctx.secrets.url!)
    url.searchParams.set('messageReplyOption', 'REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD')
    return {
      url: url.toString(),
      body: {
        text: clip(`${n.severity}: ${n.summary}`, 4000),
        thread: { threadKey: clip(n.key, 250) },
        cardsV2: [
          {
            cardId: 'falconet',
            card: {
              header: { title: clip(`${n.severity}: ${n.title}`, 200), subtitle: clip(n.summary, 200) },
              sections: [
                // Google Chat renders HTML in these: the attacker's text is escaped.
                { widgets: facts(f, ctx).map(([topLabel, text]) => ({ decoratedText: { topLabel: escapeHtml(topLabel), text: escapeHtml(clip(text, 500)) } })) },
                { widgets: [{ textParagraph: { text: escapeHtml(clip(f.event.output, 4000)) } }, { buttonList: { buttons: [{ text: 'Open in Security Hub', onClick: { openLink: { url: consoleUrl(f.id, ctx.region, ctx.partition) } } }] } }] },
              ],
            },
          },
        ],
      },
    }
  },
})
