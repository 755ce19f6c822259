import { appendFile, mkdir } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { Type, type Static } from 'typebox'
import { sinkSchema } from '../delivery/config.js'
import { toAsff } from '../asff/build.js'
import type { AsffContext } from '../asff/context.js'
import { defineSink, type SinkBody, type Encoded, type SendOutcome, type SinkDeps } from '../delivery/sink.js'
import type { Finding } from '../model/finding.js'

/**
 * The embedded default: each finding as one ASFF JSON object per line, so a first run with no AWS
 * account shows exactly what Security Hub would receive (`jq` it, or import it later).
 */
const schema = sinkSchema(
  { enabled: true },
  { maxItems: 1000, maxBytes: 8_388_608, flushIntervalMs: 200, requestsPerSecond: 1000, burst: 1000 },
  { path: Type.String({ default: 'findings.jsonl', description: 'Relative to dataDir unless absolute.' }) },
)
type FileConfig = Static<typeof schema>

export const fileSink = defineSink({
  id: 'file',
  description: 'Findings as ASFF JSON lines in a local file (on by default).',
  schema,
  create: (config, deps) => new FileSink(config, deps),
})

class FileSink implements SinkBody<Finding> {
  readonly #path: string
  readonly #deps: SinkDeps
  #ctx: AsffContext | undefined

  constructor(config: FileConfig, deps: SinkDeps) {
    this.#path = resolve(deps.dataDir, config.path)
    this.#deps = deps
  }

  async start(signal: AbortSignal): Promise<void> {
    await mkdir(dirname(this.#path), { recursive: true })
    this.#ctx = await this.#deps.asffContext(signal)
  }

  encode(finding: Finding): Encoded {
    const line = JSON.stringify(toAsff(finding, this.#ctx!)) + '\n'
    return { id: finding.id, bytes: Buffer.byteLength(line), payload: line }
  }

  async send(batch: Encoded[]): Promise<SendOutcome> {
    try {
      await appendFile(this.#path, batch.map((e) => e.payload as string).join(''))
      return { kind: 'ok' }
    } catch (err) {
      // A full disk or a permission fixed by the operator: keep the findings and try again.
      return { kind: 'retry', reason: `cannot append to ${this.#path}: ${(err as NodeJS.ErrnoException).code ?? err}` }
    }
  }
}
