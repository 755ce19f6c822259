#!/usr/bin/env node
import { readFileSync } from 'node:fs'
import { CommandError, EXIT, UsageError, type Command, type CommandContext } from './command.js'
import { serveCommand } from './commands/serve.js'
import { validateConfigCommand } from './commands/validate-config.js'
import { sendTestCommand } from './commands/send-test.js'
import { replayCommand } from './commands/replay.js'
import { asffCommand, ocsfCommand } from './commands/asff.js'
import { deadLettersCommand } from './commands/dead-letters.js'
import { printDetectionsCommand, printDocsCommand, printSchemaCommand } from './commands/print.js'

const COMMANDS: readonly Command[] = [serveCommand, validateConfigCommand, sendTestCommand, replayCommand, asffCommand, ocsfCommand, deadLettersCommand, printSchemaCommand, printDocsCommand, printDetectionsCommand]

const USAGE = `falconet — Falco / Fluent Bit companion for Amazon EKS

Usage: falconet <command> [options]

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(18)}${c.summary}`).join('\n')}
  ${'help [COMMAND]'.padEnd(18)}this list, or a command's options and examples

Run falconet <command> --help for a command's options. Config: --config FILE or
$FALCONET_CONFIG, overridden by FALCONET_* variables (docs/configuration.md).

Exit codes: 0 ok; 1 failure (a non-2xx answer, bad input lines, falconet unreachable);
2 usage or config error (bad arguments, unreadable file, invalid config).`

/** Dispatch only: each command parses its own options. Resolves to the exit code (undefined: keep running). */
async function main(argv: string[], ctx: CommandContext): Promise<number | undefined> {
  const [first, ...rest] = argv
  if (first === '--help' || first === '-h' || first === 'help') {
    if (first === 'help' && rest[0] !== undefined) {
      const command = find(rest[0])
      if (!command) return usageError(ctx, `unknown command "${rest[0]}"`, 'falconet --help')
      ctx.stdout.write(command.help + '\n')
      return EXIT.ok
    }
    ctx.stdout.write(USAGE + '\n')
    return EXIT.ok
  }
  if (first === '--version' || first === '-V') {
    ctx.stdout.write(version() + '\n')
    return EXIT.ok
  }
  // No command (or only options) is serve, as it always was: `falconet --config f.yaml`.
  const command = first === undefined || first.startsWith('-') ? serveCommand : find(first)
  if (!command) return usageError(ctx, `unknown command "${first}"`, 'falconet --help')
  const args = command === serveCommand && first !== 'serve' ? argv : rest
  try {
    return await command.run(args, ctx)
  } catch (err) {
    if (err instanceof UsageError) return usageError(ctx, `falconet ${command.name}: ${err.message}`, `falconet ${command.name} --help`)
    throw Object.assign(err as Error, { command: command.name })
  }
}

function find(name: string): Command | undefined {
  return COMMANDS.find((c) => c.name === name)
}

/**
 * The error and one line saying where the usage is: printing the whole help after it scrolls the
 * one line that matters off the screen.
 */
function usageError(ctx: CommandContext, message: string, helpCommand: string): number {
  ctx.stderr.write(`${message}\nRun '${helpCommand}' for usage.\n`)
  return EXIT.usage
}

function version(): string {
  // ../../package.json from both src/cli/ and dist/cli/.
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
  return `falconet ${pkg.version}`
}

// A closed pipe (`falconet asff big.jsonl | head`) ends the output, not with a stack trace.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0)
  throw err
})

main(process.argv.slice(2), { env: process.env, stdin: process.stdin, stdout: process.stdout, stderr: process.stderr }).then(
  (code) => {
    if (code !== undefined) process.exitCode = code
  },
  (err: Error & { code?: string; command?: string }) => {
    const prefix = err.command ? `falconet ${err.command}: ` : 'falconet: '
    // Config errors and failures the user can act on: the message, no stack trace.
    if (err.code === 'FALCONET_ERR_CONFIG') {
      process.stderr.write(`${prefix}${err.message}\n`)
      process.exitCode = EXIT.usage
    } else if (err instanceof CommandError) {
      process.stderr.write(`${prefix}${err.message}\n`)
      process.exitCode = err.exitCode
    } else {
      process.stderr.write(`${prefix}unexpected error: ${err.stack ?? err}\n`)
      process.exitCode = EXIT.failure
    }
  },
)
