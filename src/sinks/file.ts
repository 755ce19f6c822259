import { appendFile, mkdir, rename, rm, stat } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { Type, type Static } from 'typebox'
import { sinkSchema } from '../delivery/config.js'
import { encodeFinding, formatOption } from './formats.js'
import type { AsffContext } from '../asff/context.js'
import { defineSink, type SinkBody, type Encoded, type SendOutcome, type SinkDeps } from '../delivery/sink.js'
import type { Finding } from '../model/finding.js'

/**
 * The embedded default: each finding as one ASFF JSON object per line, so a first run with no AWS
 * account shows exactly what Security Hub would receive (`jq` it, or import it later); with
 * `format: ocsf`, one OCSF 1.6.0 Detection Finding per line instead.
 */
const schema = sinkSchema(
  { enabled: true },
  { maxItems: 1000, maxBytes: 8_388_608, flushIntervalMs: 200, requestsPerSecond: 1000, burst: 1000 },
  {
    path: Type.String({ default: 'findings.jsonl', description: 'Relative to dataDir unless absolute.' }),
    maxFileBytes: Type.Integer({ minimum: 1024, default: 104_857_600, description: 'Size at which the file is rotated (findings.jsonl → findings.jsonl.1 → …): the file is outside the spool budget, so it is bounded here.' }),
    keepFiles: Type.Integer({ minimum: 0, default: 5, description: 'Rotated files kept besides the current one; the oldest is deleted. Disk use stays under (keepFiles + 1) × maxFileBytes plus one batch.' }),
    format: formatOption(['asff', 'ocsf'] as const, 'asff', 'ASFF, or an OCSF 1.6.0 Detection Finding per line.'),
  },
)
type FileConfig = Static<typeof schema>

export const fileSink = defineSink({
  id: 'file',
  description: 'Findings as ASFF (or OCSF) JSON lines in a local file (on by default).',
  schema,
  create: (config, deps) => new FileSink(config, deps),
})

class FileSink implements SinkBody<Finding> {
  readonly #path: string
  readonly #format: FileConfig['format']
  readonly #deps: SinkDeps
  #ctx: AsffContext | undefined
  /** The current file's size, kept in memory (stat once at start): no stat per batch. */
  #size = 0

  readonly #rotation: { maxFileBytes: number; keepFiles: number }

  constructor(config: FileConfig, deps: SinkDeps) {
    this.#path = resolve(deps.dataDir, config.path)
    this.#rotation = { maxFileBytes: config.maxFileBytes, keepFiles: config.keepFiles }
    this.#format = config.format
    this.#deps = deps
  }

  async start(signal: AbortSignal): Promise<void> {
    await mkdir(dirname(this.#path), { recursive: true })
    this.#size = await stat(this.#path).then(
      (s) => s.size,
      () => 0,
    )
    this.#ctx = await this.#deps.asffContext(signal)
  }

  encode(finding: Finding): Encoded {
    const line = JSON.stringify(encodeFinding(this.#format, finding, this.#ctx!)) + '\n'
    return { id: finding.id, bytes: Buffer.byteLength(line), payload: line }
  }

  async send(batch: Encoded[]): Promise<SendOutcome> {
    const text = batch.map((e) => e.payload as string).join('')
    const bytes = Buffer.byteLength(text)
    try {
      if (this.#size > 0 && this.#size + bytes > this.#rotation.maxFileBytes) await this.#rotate()
      await appendFile(this.#path, text)
      this.#size += bytes
      return { kind: 'ok' }
    } catch (err) {
      // A full disk or a permission fixed by the operator: keep the findings and try again.
      return { kind: 'retry', reason: `cannot append to ${this.#path}: ${(err as NodeJS.ErrnoException).code ?? err}` }
    }
  }

  /**
   * logrotate's numbering (path.1 is the newest rotated file), by rename: a reader holding the old
   * file open (tail -F) keeps it whole and follows the new one. Written by hand rather than with
   * rotating-file-stream: a batch is appended whole or retried, which a stream's buffering hides.
   */
  async #rotate(): Promise<void> {
    const keep = this.#rotation.keepFiles
    await rm(`${this.#path}.${keep}`, { force: true })
    for (let n = keep - 1; n >= 1; n--) await rename(`${this.#path}.${n}`, `${this.#path}.${n + 1}`).catch(ignoreMissing)
    if (keep > 0) await rename(this.#path, `${this.#path}.1`).catch(ignoreMissing)
    else await rm(this.#path, { force: true })
    this.#size = 0
  }
}

function ignoreMissing(err: NodeJS.ErrnoException): void {
  if (err.code !== 'ENOENT') throw err
}
