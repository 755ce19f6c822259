import { asffContextProvider } from '../../aws/identity.js'
import { encodeFinding } from '../../sinks/formats.js'
import { EXIT, parseCommandArgs, showHelp, UsageError, write, type Command } from '../command.js'
import { openInput } from '../input/open.js'
import { FORMATS, inputRecords, type Format } from '../input/records.js'
import { count, LineProblems, loadCommandConfig, plural } from '../report.js'

/** What each output format is, for the help text. */
const OUTPUTS = {
  asff: { what: 'ASFF findings', receiver: 'Security Hub', encoder: 'the ASFF encoder', jq: `'.Severity.Label + " " + .Title'` },
  ocsf: { what: 'OCSF 1.6.0 Detection Findings', receiver: 'Security Lake and EventBridge', encoder: 'the OCSF encoder', jq: `'.severity + " " + .finding_info.title'` },
} as const

/** `falconet asff` and `falconet ocsf`: the same pipeline, a different encoder at the end. */
function convertCommand(name: keyof typeof OUTPUTS): Command {
  const out = OUTPUTS[name]
  const command: Command = {
    name,
    summary: `print the ${out.what} a file of events would produce, sending nothing`,
    help: `Usage: falconet ${name} [options] FILE

Reads a file of events, runs it through falconet's own pipeline (normalisation, audit detections,
Fluent Bit log rules, aggregation, ${out.encoder}) with your config, and prints the findings —
exactly what ${out.receiver} would receive — without sending anything or touching the data dir.
Repeats aggregate as they would in falconet: one finding per Id, in its final state.

FILE (- for standard input, gzip'd or not) holds, detected from its first record:
  Falco alerts             JSON lines (Falco's stdout or file_output), or a JSON array
  Fluent Bit records       as its http output sends them (json_lines, json): Falco alerts in any
                           record shape, audit Events, other log lines (through the log rules)
  Kubernetes audit events  audit.k8s.io Events or EventLists, one a line or pretty-printed

Options:
  -c, --config FILE   falconet config: cluster name, key fields, severity mapping, log rules,
                      audit detections (default: $FALCONET_CONFIG, then FALCONET_* variables)
  -f, --format F      input: ${FORMATS.join(' | ')} (default: detected)
  -o, --output O      asff | ocsf: the encoding printed (default: ${name})
      --pretty        indented JSON (default: one finding per line)
  -h, --help          this help

Findings go to stdout; a summary and every bad record (with its line number) to stderr. Exit 1
if a record was bad or FILE broke off (what was read is still printed), 2 for bad arguments, an
unreadable FILE or an invalid config. The account is aws.accountId, else 000000000000; enrichment is not applied.

Examples:
  falconet ${name} test/fixtures/falco/01-terminal-shell-in-container.json
  kubectl logs -n falco ds/falco | grep '^{' | falconet ${name} - --pretty
  falconet ${name} --config falconet.yaml audit-events.jsonl | jq -r ${out.jq}`,

    async run(args, ctx) {
      const parsed = parseCommandArgs(args, { config: { type: 'string', short: 'c' }, format: { type: 'string', short: 'f' }, output: { type: 'string', short: 'o' }, pretty: { type: 'boolean' } }, { min: 1, max: 1, names: 'FILE (- for standard input)' })
      if (!parsed) return showHelp(command, ctx)
      const { values, positionals } = parsed
      const format = formatOption(values.format as string | undefined)
      const output = (values.output as string | undefined) ?? name
      if (output !== 'asff' && output !== 'ocsf') throw new UsageError(`--output must be asff or ocsf, got "${output}"`)
      // The AWS sinks are off here whatever the config says: the account is never looked up.
      const config = await loadCommandConfig(values.config as string | undefined, {
        ...ctx.env,
        FALCONET_SECURITY_HUB_ENABLED: 'false',
        FALCONET__SINKS__SECURITY_LAKE__ENABLED: 'false',
        FALCONET__SINKS__EVENT_BRIDGE__ENABLED: 'false',
      })
      const asffContext = await asffContextProvider(config, ctx.env)()
      const input = await openInput(positionals[0]!, ctx.stdin)
      const { createOfflinePipeline } = await import('../offline-pipeline.js')
      const pipeline = createOfflinePipeline(config)
      const problems = new LineProblems((text) => ctx.stderr.write(text))
      const kinds = new Map<readonly [string, string], number>()
      const tally = (kind: readonly [string, string], n = 1) => kinds.set(kind, (kinds.get(kind) ?? 0) + n)
      let detected: Format | undefined
      let readError: string | undefined

      try {
        for await (const record of inputRecords(input.stream, { ...(format ? { format } : {}), onFormat: (f) => (detected = f) })) {
          try {
            switch (record.kind) {
              case 'bad':
                problems.report(record.line, record.reason)
                break
              case 'falco':
                await pipeline.falco(record.text)
                tally(KINDS.falco)
                break
              case 'fluent-bit': {
                const result = await pipeline.fluentBit(record.text)
                if (result.kind === 'invalid') problems.report(record.line, result.reason)
                else tally(KINDS[result.kind])
                break
              }
              case 'k8s-audit':
                await pipeline.audit(record.events)
                tally(KINDS.audit, record.events.length)
                break
            }
          } catch (err) {
            problems.report(record.line, (err as Error).message)
          }
        }
      } catch (err) {
        // Unreadable midway (a broken gzip): what was read is still printed.
        readError = `cannot read ${positionals[0]}: ${(err as Error).message}`
      }

      const findings = pipeline.findings()
      for (const finding of findings) {
        const encoded = encodeFinding(output, finding, asffContext)
        await write(ctx.stdout, (values.pretty ? JSON.stringify(encoded, null, 2) : JSON.stringify(encoded)) + '\n')
      }
      const read = [...kinds].map(([kind, n]) => `${count(n)} ${plural(n, kind)}`).join(', ') || 'no records'
      const bad = problems.count > 0 ? `; ${count(problems.count)} bad (see above)` : ''
      ctx.stderr.write(`${name}: ${read}${detected ? ` (${detected})` : ''}${bad} → ${count(findings.length)} ${plural(findings.length, ['finding', 'findings'])}\n`)
      if (readError) ctx.stderr.write(`falconet ${name}: ${readError}\n`)
      return problems.count > 0 || readError ? EXIT.failure : EXIT.ok
    },
  }
  return command
}

export const asffCommand = convertCommand('asff')
export const ocsfCommand = convertCommand('ocsf')

const KINDS = {
  falco: ['Falco alert', 'Falco alerts'],
  audit: ['audit event', 'audit events'],
  log: ['log-rule match', 'log-rule matches'],
  unmatched: ['record no rule matched', 'records no rule matched'],
  skipped: ["of Falco's own log lines (skipped)", "of Falco's own log lines (skipped)"],
  forged: ['Falco alert from a pod that is not Falco (refused)', 'Falco alerts from pods that are not Falco (refused)'],
} as const satisfies Record<string, readonly [string, string]>

export function formatOption(value: string | undefined): Format | undefined {
  if (value === undefined) return undefined
  if (!(FORMATS as readonly string[]).includes(value)) throw new UsageError(`--format must be one of ${FORMATS.join(', ')}, got "${value}"`)
  return value as Format
}
