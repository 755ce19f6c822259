import { resolve } from 'node:path'
import { pino } from 'pino'
import { DeadLetterFile, type LetterFilter, type StoredLetter } from '../../delivery/dead-letter.js'
import { EXIT, parseCommandArgs, showHelp, UsageError, write, type Command } from '../command.js'
import { bearerToken, closeClient, endpoint, localUrl, networkReason, parseUrl, post } from '../client.js'
import { loadCommandConfig, plural } from '../report.js'

const ACTIONS = ['list', 'show', 'redrive'] as const

export const deadLettersCommand: Command = {
  name: 'dead-letters',
  summary: 'list, show or redrive what a sink refused for good',
  help: `Usage: falconet dead-letters list|show|redrive [--sink S] [--id FINDING_ID] [options]

What a sink refused for good (a 4xx from a receiver, a finding Security Hub rejects with a
permanent code, a finding the spool shed) is kept in <dataDir>/dead-letter/<sink>.jsonl.

  list      one line per letter: when, sink, finding Id, code and reason (read from the data dir;
            with a shared store, this replica's: GET /api/dead-letters lists every replica's)
  show      the letters in full, as JSON: the reason, the payload as sent, the finding
  redrive   ask the running falconet to queue the letters' findings again for their sink,
            through its durable spool (with a shared store: the sink's shared queue, once,
            whichever replica is asked); a letter leaves its file only once it is queued.
            Fix the cause first (the receiver's URL, the IAM policy, the payload limit).

Options:
  -s, --sink S          only this sink's letters (securityHub, cloudwatchLogs, receiver-<name>,
                        spool for shed findings)
  -i, --id ID           only the letters of this finding
  -c, --config FILE     the falconet config: its dataDir (list, show) and server.port (redrive)
  -d, --data-dir DIR    read letters here (default: dataDir from the config or $FALCONET_DATA_DIR)
      --json            list: one JSON object a line instead of a table
  -u, --url URL         redrive: the running falconet (default http://127.0.0.1:<port>)
      --token-file FILE redrive: the management token (api.adminTokenFile); default
                        $FALCONET_ADMIN_TOKEN. Never give a token on the command line.
  -h, --help            this help

Exit 0 when done, 1 when falconet refused or could not be reached, 2 for bad arguments.

Examples:
  falconet dead-letters list
  falconet dead-letters show --sink securityHub --id falconet/syscall/0f3c…
  FALCONET_ADMIN_TOKEN=$(cat /etc/falconet/secrets/admin-token) falconet dead-letters redrive --sink receiver-slack-sec`,

  async run(args, ctx) {
    const parsed = parseCommandArgs(
      args,
      {
        sink: { type: 'string', short: 's' },
        id: { type: 'string', short: 'i' },
        config: { type: 'string', short: 'c' },
        'data-dir': { type: 'string', short: 'd' },
        json: { type: 'boolean' },
        url: { type: 'string', short: 'u' },
        'token-file': { type: 'string' },
      },
      { min: 1, max: 1, names: `an action: ${ACTIONS.join(', ')}` },
    )
    if (!parsed) return showHelp(deadLettersCommand, ctx)
    const { values, positionals } = parsed
    const action = positionals[0] as (typeof ACTIONS)[number]
    if (!ACTIONS.includes(action)) throw new UsageError(`unknown action "${action}": ${ACTIONS.join(', ')}`)
    const filter: LetterFilter = {
      ...(values.sink !== undefined ? { sink: values.sink as string } : {}),
      ...(values.id !== undefined ? { findingId: values.id as string } : {}),
    }
    if (filter.sink !== undefined && !/^[A-Za-z0-9._-]+$/.test(filter.sink)) throw new UsageError(`--sink "${filter.sink}" is not a sink id`)
    const config = await loadCommandConfig(values.config as string | undefined, ctx.env)

    if (action === 'redrive') {
      const url = endpoint(values.url !== undefined ? parseUrl(values.url as string) : localUrl(config), '/api/dead-letters/redrive')
      const token = bearerToken(values['token-file'] as string | undefined, ctx.env, config.api.adminTokenEnv ?? 'FALCONET_ADMIN_TOKEN')
      try {
        const answer = await post(url, JSON.stringify({ ...(filter.sink ? { sink: filter.sink } : {}), ...(filter.findingId ? { id: filter.findingId } : {}) }), 'application/json', token)
        if (answer.status !== 200) {
          ctx.stderr.write(`POST ${url} → ${answer.statusLine}: ${answer.reason}\n`)
          return EXIT.failure
        }
        const requeued = Number(answer.json?.requeued ?? 0)
        const skipped = (answer.json?.skipped as Array<{ sink: string; id: string; reason: string }> | undefined) ?? []
        await write(ctx.stdout, `requeued ${requeued} ${plural(requeued, ['letter', 'letters'])}${skipped.length ? `; ${skipped.length} left in place` : ''}\n`)
        for (const s of skipped) await write(ctx.stdout, `  left ${s.sink} ${s.id}: ${s.reason}\n`)
        return EXIT.ok
      } catch (err) {
        ctx.stderr.write(`POST ${url} failed: ${networkReason(err)}\n`)
        return EXIT.failure
      } finally {
        await closeClient()
      }
    }

    const dataDir = resolve((values['data-dir'] as string | undefined) ?? config.dataDir)
    const letters = await new DeadLetterFile(dataDir, pino({ level: 'silent' })).list(filter)
    if (action === 'show') {
      for (const l of letters) await write(ctx.stdout, JSON.stringify(shown(l), null, 2) + '\n')
    } else if (values.json) {
      for (const l of letters) await write(ctx.stdout, JSON.stringify({ at: l.time, sink: l.sink, id: l.findingId, code: l.code, reason: l.reason }) + '\n')
    } else {
      for (const l of letters) await write(ctx.stdout, `${l.time}  ${l.sink}  ${l.findingId}  ${l.code}: ${oneLine(l.reason)}\n`)
    }
    if (letters.length === 0) ctx.stderr.write(`no dead letters${filter.sink ? ` for ${filter.sink}` : ''}${filter.findingId ? ` of ${filter.findingId}` : ''} in ${dataDir}/dead-letter\n`)
    return EXIT.ok
  },
}

function shown(l: StoredLetter): Record<string, unknown> {
  return { at: l.time, sink: l.sink, id: l.findingId, code: l.code, reason: l.reason, payload: l.payload, ...(l.item !== undefined ? { finding: l.item } : {}) }
}

function oneLine(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim()
  return line.length > 160 ? `${line.slice(0, 160)}…` : line
}
