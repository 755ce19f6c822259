import { hostname } from 'node:os'
import { stringify } from 'lossless-json'
import { PRIORITIES, parsePriority, type Priority } from '../../model/severity.js'
import { EXIT, parseCommandArgs, showHelp, UsageError, type Command } from '../command.js'
import { bearerToken, closeClient, endpoint, localUrl, networkReason, parseUrl, post } from '../client.js'
import { loadCommandConfig } from '../report.js'

const TEST_RULE = 'Test alert (falconet send-test)'

export const sendTestCommand: Command = {
  name: 'send-test',
  summary: 'POST a test Falco alert to a running falconet and print its answer',
  help: `Usage: falconet send-test [options]

Sends one Falco alert, shaped exactly like Falco's http_output sends it, to a running falconet
and prints the answer: the quickest check that Falco → falconet → your sinks works. The alert is
rule "${TEST_RULE}" from this host; repeating it updates one finding.

Options:
  -p, --priority P      a Falco priority, any case (default: Warning, a MEDIUM finding):
                        ${PRIORITIES.join(', ')}
  -u, --url URL         where to POST (default: http://127.0.0.1:<port>/falco, the port from
                        server.port in --config / $FALCONET_CONFIG, or $FALCONET_PORT, else 2801)
  -c, --config FILE     read the port from this falconet config
      --token-file FILE send "Authorization: Bearer <token>" with the token in FILE
                        (default: $FALCONET_TOKEN; never give a token on the command line)
  -h, --help            this help

Exit 0 when falconet accepted the alert (2xx), 1 otherwise (the status and falconet's reason are
printed), 2 for bad arguments.

Examples:
  falconet send-test
  falconet send-test --priority critical --url http://falconet.falconet.svc:2801/falco
  FALCONET_TOKEN=$(cat /run/secrets/ingest-token) falconet send-test`,

  async run(args, ctx) {
    const parsed = parseCommandArgs(args, { priority: { type: 'string', short: 'p' }, url: { type: 'string', short: 'u' }, config: { type: 'string', short: 'c' }, 'token-file': { type: 'string' } }, { min: 0, max: 0, names: '' })
    if (!parsed) return showHelp(sendTestCommand, ctx)
    const { values } = parsed
    const requested = (values.priority as string | undefined) ?? 'Warning'
    const priority = parsePriority(requested)
    if (!priority) throw new UsageError(`--priority "${requested}" is not a Falco priority: ${PRIORITIES.join(', ')} (any case)`)
    const url = values.url !== undefined ? parseUrl(values.url as string) : endpoint(localUrl(await loadCommandConfig(values.config as string | undefined, ctx.env)), '/falco')
    const token = bearerToken(values['token-file'] as string | undefined, ctx.env)

    try {
      const answer = await post(url, testAlert(priority), 'application/json', token)
      const ok = answer.status >= 200 && answer.status < 300
      const detail = ok ? `accepted ${priority} alert "${TEST_RULE}"` : answer.reason
      const wait = answer.retryAfterSecs !== undefined ? ` (Retry-After: ${answer.retryAfterSecs} s)` : ''
      ;(ok ? ctx.stdout : ctx.stderr).write(`POST ${url} → ${answer.statusLine}: ${detail}${wait}\n`)
      return ok ? EXIT.ok : EXIT.failure
    } catch (err) {
      ctx.stderr.write(`POST ${url} failed: ${networkReason(err)}\n`)
      return EXIT.failure
    } finally {
      await closeClient()
    }
  },
}

/**
 * Falco 0.44's http_output body: keys sorted, `time` with nanoseconds, `output` prefixed with the
 * clock time and priority, output_fields with evt.time as a bare integer beyond 2^53. A host event
 * (container.id "host"), so it names no workload.
 */
export function testAlert(priority: Priority, now = performance.timeOrigin + performance.now()): string {
  const nanos = BigInt(Math.floor(now)) * 1_000_000n + BigInt(Math.floor((now % 1) * 1e6))
  const iso = new Date(Math.floor(now)).toISOString()
  const time = `${iso.slice(0, 23)}${String(nanos % 1_000_000n).padStart(6, '0')}Z`
  const host = hostname()
  const fields = {
    'container.id': 'host',
    'container.name': 'host',
    'evt.time': nanos,
    'evt.type': 'execve',
    'k8s.ns.name': null,
    'k8s.pod.name': null,
    'proc.cmdline': 'falconet send-test',
    'proc.exepath': '/usr/local/bin/falconet',
    'proc.name': 'falconet',
    'proc.pid': process.pid,
    'user.name': 'falconet',
    'user.uid': 10001,
  }
  const output = `${time.slice(11, 29)}: ${priority} A test alert sent by falconet send-test; not an attack ` + `(user=falconet user_uid=10001 process=falconet command=falconet send-test container_id=host container_name=host host=${host})`
  return stringify({ hostname: host, output, output_fields: fields, priority, rule: TEST_RULE, source: 'syscall', tags: ['test', 'falconet'], time })!
}
