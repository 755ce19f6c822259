import { parseCommandArgs, showHelp, type Command } from '../command.js'
import { loadCommandConfig } from '../report.js'

export const serveCommand: Command = {
  name: 'serve',
  summary: 'receive alerts on :2801 and deliver findings (the default command)',
  help: `Usage: falconet serve [options]

Runs falconet: Falco alerts on POST / and /falco, Fluent Bit on /fluent-bit, Kubernetes audit
events on /k8s-audit, /test, /healthz, /readyz, /metrics; findings are spooled in the data dir
and delivered to the enabled sinks. SIGTERM or SIGINT stops accepting and flushes what is queued.

Options:
  -c, --config FILE   YAML config (default: $FALCONET_CONFIG); FALCONET_* variables override it
                      (see docs/configuration.md)
  -h, --help          this help

Exit 2 (with every bad key listed) when the config is invalid.

Examples:
  falconet serve
  FALCONET_PORT=8080 FALCONET_DATA_DIR=/var/lib/falconet falconet serve --config falconet.yaml`,

  async run(args, ctx) {
    const parsed = parseCommandArgs(args, { config: { type: 'string', short: 'c' } }, { min: 0, max: 0, names: '' })
    if (!parsed) return showHelp(serveCommand, ctx)
    const config = await loadCommandConfig(parsed.values.config as string | undefined, ctx.env)
    const { serveProcess } = await import('../../server/serve.js')
    await serveProcess(config)
    return undefined // keeps running until a signal
  },
}
