import { EXIT, parseCommandArgs, showHelp, write, type Command } from '../command.js'

/** Commands that print one generated document and take no arguments. */
function printCommand(name: string, summary: string, description: string, render: () => Promise<string>): Command {
  const command: Command = {
    name,
    summary,
    help: `Usage: falconet ${name}

${description}

Options:
  -h, --help   this help

Example:
  falconet ${name} > ${name === 'print-schema' ? 'falconet.schema.json' : name === 'print-docs' ? 'docs/configuration.md' : 'docs/detections.md'}`,
    async run(args, ctx) {
      if (!parseCommandArgs(args, {}, { min: 0, max: 0, names: '' })) return showHelp(command, ctx)
      await write(ctx.stdout, await render())
      return EXIT.ok
    },
  }
  return command
}

export const printSchemaCommand = printCommand('print-schema', 'the config JSON Schema', 'Prints the JSON Schema of the config file (for editors and CI checks of falconet.yaml).', async () => JSON.stringify((await import('../../config/schema.js')).configSchema, null, 2) + '\n')

export const printDocsCommand = printCommand('print-docs', 'the config reference (docs/configuration.md)', 'Prints the config reference in Markdown, generated from the schema.', async () => (await import('../../config/docs.js')).renderConfigDocs())

export const printDetectionsCommand = printCommand('print-detections', 'the audit detections (docs/detections.md)', 'Prints the reference of the Kubernetes audit detections in Markdown.', async () => (await import('../../detect/audit/docs.js')).renderDetectionDocs())
