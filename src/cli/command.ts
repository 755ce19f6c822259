import { parseArgs, type ParseArgsConfig } from 'node:util'

/**
 * What every subcommand shares: its help text, how its arguments are parsed, and the exit codes.
 * main.ts only dispatches; each command lives in its own file under commands/.
 */

/** Exit codes, the same for every command (also in `falconet --help` and docs/cli.md). */
export const EXIT = {
  ok: 0,
  /** The command ran and something failed: a non-2xx answer, bad lines in an input file. */
  failure: 1,
  /** Nothing was done: bad arguments, an unreadable input file, an invalid config. */
  usage: 2,
} as const

export interface CommandContext {
  env: NodeJS.ProcessEnv
  stdin: NodeJS.ReadableStream
  stdout: NodeJS.WritableStream
  stderr: NodeJS.WritableStream & { isTTY?: boolean }
}

export interface Command {
  name: string
  /** One line for `falconet --help`. */
  summary: string
  /** The whole `falconet <name> --help` text: synopsis, options, an example. */
  help: string
  /** Resolves to the exit code; `undefined` for a command that keeps running (serve). */
  run(args: string[], ctx: CommandContext): Promise<number | undefined>
}

/** Bad arguments: the message, then one line pointing at the command's --help, and exit 2. */
export class UsageError extends Error {}

/** A failure the user can act on (unreachable URL, unreadable file): the message, no stack trace. */
export class CommandError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failure,
  ) {
    super(message)
  }
}

type Options = NonNullable<ParseArgsConfig['options']>

/**
 * node:util parseArgs, strict, with `-h/--help` on every command; its errors become UsageErrors.
 * `null` means help was asked for (the caller prints it and exits 0).
 */
export function parseCommandArgs(args: string[], options: Options, positionals: { min: number; max: number; names: string }): { values: Record<string, string | boolean | undefined>; positionals: string[] } | null {
  let parsed
  try {
    parsed = parseArgs({ args, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true })
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
  if (parsed.values.help) return null
  const count = parsed.positionals.length
  if (count < positionals.min) throw new UsageError(`missing ${positionals.names}`)
  if (count > positionals.max) throw new UsageError(`unexpected argument "${parsed.positionals[positionals.max]}"`)
  return { values: parsed.values as Record<string, string | boolean | undefined>, positionals: parsed.positionals }
}

/** A positive number option (`--rate 50`), or a UsageError naming it. */
export function positiveNumber(value: string | undefined, name: string, { integer = false } = {}): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new UsageError(`--${name} must be a positive ${integer ? 'integer' : 'number'}, got "${value}"`)
  }
  return n
}

/** `falconet <command> --help`: the command's help on stdout, exit 0. */
export async function showHelp(command: Command, ctx: CommandContext): Promise<number> {
  await write(ctx.stdout, command.help + '\n')
  return EXIT.ok
}

/** Write `text` and wait until the stream has taken it (large outputs, slow pipes). */
export function write(stream: NodeJS.WritableStream, text: string): Promise<void> | void {
  if (stream.write(text)) return
  return new Promise((resolve) => stream.once('drain', resolve))
}
