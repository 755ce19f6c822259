import { createHash, timingSafeEqual } from 'node:crypto'
import { readFileSync, statSync } from 'node:fs'
import { errors } from '../../errors.js'

/**
 * A set of valid credentials (tokens, or user:password pairs) from a file and/or an environment
 * variable. Several lines are valid at once, so a credential is rotated by adding the new one,
 * moving the senders, then removing the old one. A changed file is picked up without a restart
 * (Kubernetes updates mounted Secrets in place); a file that vanishes or empties keeps the last
 * good set rather than opening the endpoint. To revoke every token of the file without a restart,
 * write a file holding the line `# revoke-all` (alone, or with the tokens that stay valid): a file
 * with that line is taken as it is, even with no token left, and the source then refuses
 * everything the file used to allow (tokens from an environment variable need a restart).
 */
export class CredentialSet {
  readonly #file: string | undefined
  readonly #fromEnv: Buffer[]
  #fromFile: Buffer[] = []
  #mtimeMs = -1

  constructor(opts: { file?: string | undefined; envValue?: string | undefined; envName?: string | undefined; what: string }) {
    this.#file = opts.file
    this.#fromEnv = split(opts.envValue ?? '', /[\n,]/).map(digest)
    // A variable that is named but unset or empty (a missing Secret key, a typo) must not leave
    // the endpoint open: that is a start-up error, as it is for receivers.
    if (opts.envName !== undefined && this.#fromEnv.length === 0) {
      throw new errors.FALCONET_ERR_CONFIG(`  ${opts.what.replace(/File$/, 'Env')}: ${opts.envName} is not set (or holds no token)`)
    }
    if (this.#file) {
      try {
        this.#reload(true)
      } catch (err) {
        throw new errors.FALCONET_ERR_CONFIG(`  ${opts.what}: cannot read ${this.#file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`)
      }
    }
  }

  get configured(): boolean {
    return this.#file !== undefined || this.#fromEnv.length > 0
  }

  /**
   * Whether `presented` is one of the set. Both sides are SHA-256 digests compared with
   * timingSafeEqual, and every entry is compared (no early exit), so the time taken says nothing
   * about which entry or how many characters matched.
   */
  has(presented: string): boolean {
    const candidate = digest(presented)
    let match = false
    for (const entry of this.#fromEnv) match = timingSafeEqual(entry, candidate) || match
    for (const entry of this.#fromFile) match = timingSafeEqual(entry, candidate) || match
    return match
  }

  /**
   * Looks at the file every `everyMs` from a timer, so a request never waits on the disk; returns
   * the stop. A failed look keeps the last good set: a Secret briefly missing during an update must
   * not open the door.
   */
  watch(everyMs = 1000): () => void {
    if (!this.#file) return () => {}
    const timer = setInterval(() => {
      try {
        this.#reload(false)
      } catch {
        // kept: see above
      }
    }, everyMs)
    timer.unref()
    return () => clearInterval(timer)
  }

  #reload(initial: boolean): void {
    const { mtimeMs } = statSync(this.#file!)
    if (!initial && mtimeMs === this.#mtimeMs) return
    const text = readFileSync(this.#file!, 'utf8')
    const entries = split(text, /\n/).map(digest)
    if (entries.length === 0 && !initial && !REVOKE_ALL.test(text)) return
    this.#fromFile = entries
    this.#mtimeMs = mtimeMs
  }
}

/** The line that makes a file authoritative even when it holds no token (an explicit revoke). */
const REVOKE_ALL = /^[ \t]*#[ \t]*revoke-all[ \t]*\r?$/im

/** Lines (or commas too, in env values: a password may hold a comma), trimmed, without blanks and # comments. */
function split(text: string, separator: RegExp): string[] {
  return text
    .split(separator)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest()
}
