import { EXIT, parseCommandArgs, showHelp, UsageError, type Command } from '../command.js'

export const validateConfigCommand: Command = {
  name: 'validate-config',
  summary: 'check a config file; list every problem',
  help: `Usage: falconet validate-config FILE

Checks a falconet YAML config the way \`serve\` does, without starting anything: the schema (types,
ranges, unknown keys, with the nearest known key) and every cross-field check (routes and the
receivers they name, matchers, receivers' required settings, silences, inhibit rules, the region
and account every enabled AWS sink needs, URL syntax). FALCONET_* variables are not applied: this
checks the file itself; AWS_REGION / AWS_DEFAULT_REGION count for the region check.

Options:
  -h, --help   this help

Exit 0 and "FILE: valid" when it is; 2 with every bad key and the reason when it is not.

Example:
  falconet validate-config /etc/falconet/falconet.yaml`,

  async run(args, ctx) {
    const parsed = parseCommandArgs(args, { config: { type: 'string', short: 'c' } }, { min: 0, max: 1, names: 'FILE' })
    if (!parsed) return showHelp(validateConfigCommand, ctx)
    // `--config FILE` is accepted too, as the serve command takes it.
    const file = parsed.positionals[0] ?? (parsed.values.config as string | undefined)
    if (!file) throw new UsageError('missing FILE')
    const { loadConfig } = await import('../../config/load.js')
    const { AWS_REGION, AWS_DEFAULT_REGION } = ctx.env
    loadConfig({ file, env: {}, awsEnv: { ...(AWS_REGION ? { AWS_REGION } : {}), ...(AWS_DEFAULT_REGION ? { AWS_DEFAULT_REGION } : {}) } })
    ctx.stdout.write(`${file}: valid\n`)
    return EXIT.ok
  },
}
