import { STATUS_CODES } from 'node:http'
import { CommandError, EXIT, parseCommandArgs, positiveNumber, showHelp, UsageError, type Command } from '../command.js'
import { bearerToken, closeClient, localUrl, parseUrl } from '../client.js'
import { openInput } from '../input/open.js'
import { FORMATS, inputRecords, type Format } from '../input/records.js'
import { createProgress } from '../progress.js'
import { ReplaySender, type ReplayStats } from '../replay-sender.js'
import { count, LineProblems, loadCommandConfig, plural } from '../report.js'
import { formatOption } from './asff.js'

const DEFAULT_BATCH = 500
const DEFAULT_RETRIES = 10
const DEFAULT_CONCURRENCY = 4

export const replayCommand: Command = {
  name: 'replay',
  summary: 'send a file of Falco alerts, Fluent Bit records or audit events to falconet',
  help: `Usage: falconet replay [options] FILE

Sends the events in FILE through the pipeline of a running falconet — detections, aggregation,
routes, sinks — the way their real senders would: each Falco alert in its own POST /falco,
Fluent Bit records as json_lines chunks to /fluent-bit, audit events as EventLists to
/k8s-audit. For trying rules and routes on recorded events. (To see the findings without
sending anything, use falconet asff.)

FILE (- for standard input, gzip'd or not): Falco alerts, Fluent Bit records or Kubernetes audit
events, one JSON value a line or a JSON array / EventList; the format is detected from the
first record. It is streamed, never loaded whole.

Options:
  -u, --url URL         falconet's base URL (default: http://127.0.0.1:<port>, the port from
                        server.port in --config / $FALCONET_CONFIG, or $FALCONET_PORT, else 2801)
  -c, --config FILE     read the port from this falconet config
  -f, --format F        ${FORMATS.join(' | ')} (default: detected)
  -r, --rate N          at most N events a second (default: as fast as falconet answers)
  -b, --batch N         Fluent Bit records per chunk, audit events per EventList (default ${DEFAULT_BATCH})
      --concurrency N   requests in flight at once (default ${DEFAULT_CONCURRENCY}); 1 sends in the file's
                        order exactly
      --retries N       resends of one request on 429/503 (after its Retry-After) or a network
                        error, before counting it rejected (default ${DEFAULT_RETRIES})
      --token-file FILE send "Authorization: Bearer <token>" with the token in FILE
                        (default: $FALCONET_TOKEN; never give a token on the command line)
      --no-progress     no progress bar (it is only drawn when stderr is a terminal anyway)
      --json            print the summary as JSON
  -h, --help            this help

A summary (sent, accepted, rejected by status) goes to stdout; the progress bar, bad lines and
rejections (with their line numbers) to stderr. Exit 0 when every event was accepted, 1 when
some were rejected, a line was bad or falconet could not be reached, 2 for bad arguments or an
unreadable FILE, 130 after Ctrl-C (what was sent is still summed up).

Examples:
  falconet replay falco-alerts.jsonl
  falconet replay --url http://falconet.falconet.svc:2801 --rate 200 fluent-bit-chunk.ndjson
  kubectl logs -n falco ds/falco --since 1h | grep '^{' | falconet replay -`,

  async run(args, ctx) {
    const parsed = parseCommandArgs(
      args,
      {
        url: { type: 'string', short: 'u' },
        config: { type: 'string', short: 'c' },
        format: { type: 'string', short: 'f' },
        rate: { type: 'string', short: 'r' },
        batch: { type: 'string', short: 'b' },
        retries: { type: 'string' },
        concurrency: { type: 'string' },
        'token-file': { type: 'string' },
        'no-progress': { type: 'boolean' },
        json: { type: 'boolean' },
      },
      { min: 1, max: 1, names: 'FILE (- for standard input)' },
    )
    if (!parsed) return showHelp(replayCommand, ctx)
    const { values, positionals } = parsed
    const file = positionals[0]!
    const format = formatOption(values.format as string | undefined)
    const rate = positiveNumber(values.rate as string | undefined, 'rate')
    const batch = positiveNumber(values.batch as string | undefined, 'batch', { integer: true }) ?? DEFAULT_BATCH
    const retries = retriesOption(values.retries as string | undefined)
    const concurrency = positiveNumber(values.concurrency as string | undefined, 'concurrency', { integer: true }) ?? DEFAULT_CONCURRENCY
    const base = values.url !== undefined ? parseUrl(values.url as string) : localUrl(await loadCommandConfig(values.config as string | undefined, ctx.env))
    const token = bearerToken(values['token-file'] as string | undefined, ctx.env)
    const input = await openInput(file, ctx.stdin)

    let detected: Format | undefined
    let progress = createProgress(ctx.stderr, undefined, '', false)
    const print = (text: string) => progress.log(text)
    const badLines = new LineProblems(print)
    const rejections = new LineProblems(print)
    const sender = new ReplaySender({
      base,
      token,
      batch,
      rate,
      retries,
      concurrency,
      onRejected: (lines, answer) => rejections.report(lines, `${answer.statusLine}: ${answer.reason}`),
      onWait: (reason, secs) => print(`${reason} in ${secs < 10 ? secs.toFixed(1) : Math.round(secs)} s\n`),
    })
    // Ctrl-C: stop reading, and still say what was sent.
    let interrupted = false
    const onSigint = () => (interrupted = true)
    process.once('SIGINT', onSigint)

    let failure: string | undefined
    try {
      const records = inputRecords(input.stream, {
        ...(format ? { format } : {}),
        position: input.position,
        onFormat: (f) => {
          detected = f
          progress = createProgress(ctx.stderr, input.size, UNITS[f][1], !values['no-progress'])
        },
      })
      for await (const record of records) {
        if (record.kind === 'bad') badLines.report(record.line, record.reason)
        else await sender.add(record)
        progress.update(input.done(), sender.stats.sent)
        if (interrupted) break
      }
      if (!interrupted) await sender.finish()
    } catch (err) {
      // falconet unreachable, or the file unreadable midway (a broken gzip): what was sent is still summed up.
      failure = err instanceof CommandError ? err.message : `cannot read ${file}: ${(err as Error).message}`
    } finally {
      await sender.drain()
      progress.stop()
      process.removeListener('SIGINT', onSigint)
      await closeClient()
    }

    const stats = sender.stats
    const rejected = Object.values(stats.rejected).reduce((a, b) => a + b, 0)
    if (values.json) {
      ctx.stdout.write(JSON.stringify({ url: base.href, format: detected ?? null, ...stats, badLines: badLines.count, interrupted, ...(failure ? { error: failure } : {}) }) + '\n')
    } else {
      ctx.stdout.write(summary(base, detected, stats, badLines.count, interrupted))
    }
    if (failure) ctx.stderr.write(`replay: ${failure}\n`)
    if (interrupted) return 130
    return failure || rejected > 0 || badLines.count > 0 ? EXIT.failure : EXIT.ok
  },
}

const UNITS: Record<Format, [string, string]> = { falco: ['Falco alert', 'Falco alerts'], 'fluent-bit': ['Fluent Bit record', 'Fluent Bit records'], 'k8s-audit': ['audit event', 'audit events'] }

function retriesOption(value: string | undefined): number {
  if (value === undefined) return DEFAULT_RETRIES
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--retries must be a whole number (0 or more), got "${value}"`)
  return n
}

function summary(base: URL, format: Format | undefined, stats: ReplayStats, bad: number, interrupted: boolean): string {
  const unit = plural(stats.sent, format ? UNITS[format] : ['event', 'events'])
  const rejected = Object.entries(stats.rejected)
  const total = rejected.reduce((a, [, n]) => a + n, 0)
  const lines = [
    `replay${interrupted ? ' (interrupted)' : ''}: ${count(stats.sent)} ${unit} sent to ${base.origin} in ${count(stats.requests)} ${plural(stats.requests, ['request', 'requests'])}`,
    `  accepted    ${count(stats.accepted)}${stats.duplicates > 0 ? ` (${count(stats.duplicates)} of them taken before, not counted again)` : ''}`,
    `  rejected    ${count(total)}${rejected.length > 0 ? ` (${rejected.map(([status, n]) => `${status} ${STATUS_CODES[Number(status)] ?? ''}: ${count(n)}`).join(', ')})` : ''}`,
  ]
  if (stats.retried > 0) lines.push(`  resent      ${count(stats.retried)} ${plural(stats.retried, ['request', 'requests'])} (429/503 or network errors)`)
  if (bad > 0) lines.push(`  bad lines   ${count(bad)} (not sent)`)
  return lines.join('\n') + '\n'
}
