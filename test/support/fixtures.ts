import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

const FALCO_DIR = new URL('../fixtures/falco/', import.meta.url).pathname

export interface FalcoFixture {
  file: string
  /** The request body exactly as Falco sent it. */
  body: string
}

export function falcoFixtures(): FalcoFixture[] {
  return readdirSync(FALCO_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => ({ file, body: readFileSync(join(FALCO_DIR, file), 'utf8') }))
}

export function falcoFixture(prefix: string): FalcoFixture {
  const found = falcoFixtures().find((f) => f.file.startsWith(prefix))
  if (!found) throw new Error(`no Falco fixture ${prefix}`)
  return found
}
