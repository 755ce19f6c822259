import type { Database, RootDatabase } from 'lmdb'
import type { LocalQueue, QueuedItem } from '../queue.js'

/** Raw items waiting for an outbox consumer (audit events for the Falco bridge), oldest first, by [outbox, seq]. */
export class Outbox {
  readonly #db: Database<{ id: string; value: unknown }, [string, number]>
  readonly #root: RootDatabase
  #seq = 0

  constructor(root: RootDatabase) {
    this.#root = root
    this.#db = root.openDB({ name: 'outbox' })
    for (const key of this.#db.getKeys()) this.#seq = Math.max(this.#seq, key[1])
  }

  get databases(): Database<unknown>[] {
    return [this.#db]
  }

  /** Inside the caller's write transaction. */
  add(name: string, items: ReadonlyArray<{ id: string; value: unknown }>): void {
    for (const item of items) this.#db.put([name, ++this.#seq], item)
  }

  /** An outbox as a runner drains it. */
  queue(name: string, onQueued: (listener: () => void) => () => void): LocalQueue {
    const keyOf = new WeakMap<object, [string, number]>()
    const remove = (items: QueuedItem[]) => this.#root.transaction(() => items.forEach((i) => keyOf.has(i) && this.#db.remove(keyOf.get(i)!)))
    return {
      due: (limit) => {
        const items: QueuedItem[] = []
        for (const { key, value } of this.#db.getRange({ start: [name], end: [name, Infinity], limit })) {
          const item = { id: value.id, value: value.value }
          keyOf.set(item, key as [string, number])
          items.push(item)
        }
        return { items, nextDueAt: undefined }
      },
      acknowledge: async (items) => {
        await remove(items)
        return items.map(() => 1)
      },
      discard: async (items) => {
        await remove(items)
      },
      pending: () => this.#db.getCount({ start: [name], end: [name, Infinity] }),
      onQueued,
    }
  }
}
