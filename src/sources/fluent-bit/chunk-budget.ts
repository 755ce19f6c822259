import { getHeapStatistics } from 'node:v8'

/**
 * How much of the process Fluent Bit chunks may take at once. A 20,000-alert burst from every node
 * used to be read, inflated and decoded all at the same time (437 MB heap, then "JavaScript heap
 * out of memory" under a 512 Mi limit, crash-looping until the burst drained). Now:
 * - each chunk reserves an estimate of what it will cost (its body, then its inflated size times
 *   the cost of decoded records) against `maxBytes`; one that does not fit gets 503 + Retry-After
 *   (Fluent Bit retries those, keeping the chunk on disk);
 * - when the heap is already above `heapPercent` of V8's limit, new chunks get 503 too (whatever
 *   the estimate missed: enrichment caches, sinks' batches);
 * - at most `maxConcurrent` chunks are decoded and committed at a time; the others wait their turn
 *   (their reservation already counted).
 * A chunk is always taken when nothing else is in flight (even one larger than the whole budget,
 * or with the heap high), so every chunk is taken eventually: slow under pressure, never refused
 * for ever.
 */
export interface ChunkBudgetOptions {
  maxBytes: number
  maxConcurrent: number
  heapPercent: number
  /** Tests: the heap figures (V8's by default). */
  heap?: () => { used: number; limit: number }
}

/** Decoded records cost several times their JSON text (strings, objects, the spool's encoding). */
export const DECODED_COST = 4

export class ChunkBudget {
  #reserved = 0
  #inFlight = 0
  /** Chunks past inflation (decoding, committing): the ones that hold real memory. */
  #grown = 0
  #active = 0
  readonly #waiting: Array<() => void> = []
  readonly #heap: () => { used: number; limit: number }

  constructor(readonly options: ChunkBudgetOptions) {
    this.#heap =
      options.heap ??
      (() => {
        const s = getHeapStatistics()
        return { used: s.used_heap_size, limit: s.heap_size_limit }
      })
  }

  get reservedBytes(): number {
    return this.#reserved
  }

  /** Why a new chunk of `bytes` cannot be taken now, or undefined (and it is reserved). */
  reserve(bytes: number): { release(): void; grow(bytes: number): string | undefined } | string {
    // Nothing in flight: always take one, or a heap full of garbage V8 has not collected yet
    // (nothing allocates while everything is refused) would refuse for ever.
    const heap = this.#inFlight > 0 ? this.#heap() : { used: 0, limit: 1 }
    if (heap.used > (heap.limit * this.options.heapPercent) / 100) {
      return `heap ${mb(heap.used)} MB is above ${this.options.heapPercent}% of its ${mb(heap.limit)} MB limit`
    }
    const refusal = this.#fits(bytes)
    if (refusal) return refusal
    let held = bytes
    this.#reserved += held
    this.#inFlight++
    let released = false
    let grown = false
    return {
      /**
       * More is known (the inflated size): reserve the difference, or say why not. The first chunk
       * to be decoded may always take what it needs — bodies still waiting do not stop it — so the
       * burst drains one chunk at a time at worst, and never stalls.
       */
      grow: (total: number) => {
        const more = Math.max(0, total - held)
        const others = this.#grown - (grown ? 1 : 0)
        if (more > 0 && others > 0 && this.#reserved + more > this.options.maxBytes) return `chunks in flight would hold about ${mb(this.#reserved + more)} MB, above sources.fluentBit.memoryBudgetBytes (${mb(this.options.maxBytes)} MB)`
        this.#reserved += more
        held += more
        if (!grown) this.#grown++
        grown = true
        return undefined
      },
      release: () => {
        if (released) return
        released = true
        this.#reserved -= held
        this.#inFlight--
        if (grown) this.#grown--
      },
    }
  }

  /** Wait for one of the `maxConcurrent` work slots; call the result to give it back. */
  async slot(): Promise<() => void> {
    if (this.#active >= this.options.maxConcurrent) await new Promise<void>((resolve) => this.#waiting.push(resolve))
    else this.#active++
    let done = false
    return () => {
      if (done) return
      done = true
      const next = this.#waiting.shift()
      if (next)
        next() // the slot passes on
      else this.#active--
    }
  }

  #fits(bytes: number): string | undefined {
    if (this.#inFlight === 0 || this.#reserved + bytes <= this.options.maxBytes) return undefined
    return `chunks in flight hold about ${mb(this.#reserved)} MB; this one would pass sources.fluentBit.memoryBudgetBytes (${mb(this.options.maxBytes)} MB)`
  }
}

function mb(bytes: number): string {
  return (bytes / 1_048_576).toFixed(0)
}
