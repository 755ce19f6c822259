import type { FindingState } from '../aggregate/aggregator.js'
import type { Finding } from '../model/finding.js'
import type { DeadLetterFile, LetterFilter, StoredLetter } from './dead-letter.js'
import type { RecordOptions } from './spool.js'

/** The dead-letter file of findings the spool shed (shedPolicy low-severity): they go back to every sink. */
export const SHED = 'spool'

export interface RedriveDeps {
  deadLetters: DeadLetterFile
  /** Spool.record: the same durable write an ingest makes (one transaction, resolves once committed). */
  record(items: Array<{ id: string; apply: (previous: FindingState | undefined) => FindingState | undefined }>, sinks: (finding: FindingState) => readonly string[], options?: RecordOptions): Promise<boolean>
  /** The finding sinks running now (built-in sinks and receivers), by id. */
  findingSinks: ReadonlySet<string>
  /** Where a shed finding goes again: the sinks and routes a changed finding would go to now. */
  sinksFor(finding: FindingState): readonly string[]
  /** Sinks that drain an outbox of raw items (the Falco bridge) → that outbox's name. */
  outboxes: Readonly<Record<string, string>>
}

export interface RedriveResult {
  /** Letters queued again and taken out of their file. */
  requeued: number
  /** Letters left in their file, with why. */
  skipped: Array<{ sink: string; id: string; reason: string }>
}

/**
 * Sends dead letters again through the normal durable path: each letter's finding is queued for
 * its sink in one spool transaction (its newest version when the spool still holds it, else the
 * version that was refused), and only once that transaction is committed are the letters taken
 * out of the file. A crash in between leaves the letter in the file as well as queued — a second
 * delivery, never a lost one. Several letters of one finding queue it once.
 */
export class Redriver {
  readonly #deps: RedriveDeps
  /** One redrive at a time: letters are removed by their line, which only a redrive changes. */
  #lock: Promise<unknown> = Promise.resolve()

  constructor(deps: RedriveDeps) {
    this.#deps = deps
  }

  redrive(filter: LetterFilter = {}): Promise<RedriveResult> {
    const run = this.#lock.then(() => this.#redrive(filter))
    this.#lock = run.catch(() => {})
    return run
  }

  async #redrive(filter: LetterFilter): Promise<RedriveResult> {
    const letters = await this.#deps.deadLetters.list(filter)
    const skipped: RedriveResult['skipped'] = []
    /** Per finding Id: the sinks to queue it for, what to restore if the spool forgot it, its letters. */
    const findings = new Map<string, { sinks: Set<string>; shed: boolean; restore: Finding | undefined; letters: StoredLetter[]; queued: boolean }>()
    const outbox = new Map<string, Array<{ id: string; value: unknown }>>()
    const outboxLetters: StoredLetter[] = []

    for (const letter of letters) {
      const skip = (reason: string) => skipped.push({ sink: letter.sink, id: letter.findingId, reason })
      const outboxName = this.#deps.outboxes[letter.sink]
      if (outboxName !== undefined) {
        if (letter.item === undefined) {
          skip('written by a falconet that did not keep the queued event; the payload as sent is in the letter')
          continue
        }
        outbox.set(outboxName, [...(outbox.get(outboxName) ?? []), { id: letter.findingId, value: letter.item }])
        outboxLetters.push(letter)
        continue
      }
      const shed = letter.sink === SHED
      if (!shed && !this.#deps.findingSinks.has(letter.sink)) {
        skip(`sink "${letter.sink}" is not enabled in this falconet`)
        continue
      }
      const entry = findings.get(letter.findingId) ?? { sinks: new Set<string>(), shed: false, restore: undefined, letters: [], queued: false }
      if (shed) entry.shed = true
      else entry.sinks.add(letter.sink)
      entry.restore ??= asFinding(letter.item) ?? asFinding(letter.payload)
      entry.letters.push(letter)
      findings.set(letter.findingId, entry)
    }
    if (findings.size === 0 && outbox.size === 0) return { requeued: 0, skipped }

    const outboxItems = [...outbox]
    await this.#deps.record(
      [...findings].map(([id, entry]) => ({
        id,
        apply: (previous) => {
          const state = previous ?? (entry.restore ? { ...entry.restore, id, pods: [], containers: [] } : undefined)
          entry.queued = state !== undefined
          return state
        },
      })),
      (finding) => {
        const entry = findings.get(finding.id)
        if (!entry) return []
        return [...new Set([...entry.sinks, ...(entry.shed ? this.#deps.sinksFor(finding) : [])])]
      },
      // Several outboxes cannot be written in one record; there is one today (the audit outbox).
      outboxItems.length > 0 ? { outbox: { name: outboxItems[0]![0], items: outboxItems[0]![1] } } : {},
    )
    const done: StoredLetter[] = outboxItems.length > 0 ? outboxLetters.filter((l) => this.#deps.outboxes[l.sink] === outboxItems[0]![0]) : []
    for (const l of outboxLetters) if (!done.includes(l)) skipped.push({ sink: l.sink, id: l.findingId, reason: 'another outbox is being redriven; run the redrive again' })
    for (const entry of findings.values()) {
      if (entry.queued) done.push(...entry.letters)
      else for (const l of entry.letters) skipped.push({ sink: l.sink, id: l.findingId, reason: 'the spool no longer holds this finding and the letter does not carry it' })
    }
    await this.#deps.deadLetters.remove(done)
    return { requeued: done.length, skipped }
  }
}

/** A normalized finding (a letter's queued item, or a receiver's payload), else undefined (e.g. ASFF). */
function asFinding(value: unknown): Finding | undefined {
  if (typeof value !== 'object' || value === null) return undefined
  const f = value as Partial<Finding>
  return typeof f.id === 'string' && typeof f.version === 'number' && typeof f.event === 'object' && f.event !== null && typeof f.severity === 'string' ? (value as Finding) : undefined
}
