/**
 * "Log this once per key" within bounded memory: a sender choosing a new key per request (a new
 * pod name, a new address) cannot grow it. Past `max` keys it forgets them all and starts again,
 * so a flood of distinct keys costs at most one line per key per `max`.
 */
export class OncePerKey {
  readonly #seen = new Set<string>()
  constructor(readonly max: number) {}

  first(key: string): boolean {
    if (this.#seen.has(key)) return false
    if (this.#seen.size >= this.max) this.#seen.clear()
    this.#seen.add(key)
    return true
  }
}
