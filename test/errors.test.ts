import t from 'tap'
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { errors } from '../src/errors.js'

t.test('every error is declared with its own code, and docs/errors.md lists exactly these', async (t) => {
  const docs = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8')
  const documented = [...docs.matchAll(/^\| `(FALCONET_ERR_\w+)` \|/gm)].map((m) => m[1])
  t.same(documented.sort(), Object.keys(errors).sort())
  for (const [key, Err] of Object.entries(errors)) {
    const err = new (Err as any)('x')
    t.equal(err.code, key, `${key} carries its own code`)
  }
})

t.test('request errors are 4xx/5xx with the reason in the message', async (t) => {
  t.equal(new errors.FALCONET_ERR_INVALID_ALERT('"rule" is missing').statusCode, 400)
  t.equal(new errors.FALCONET_ERR_INVALID_ALERT('"rule" is missing').message, 'Invalid Falco alert: "rule" is missing')
  t.equal(new errors.FALCONET_ERR_UNSUPPORTED_MEDIA_TYPE('text/plain').statusCode, 415)
  t.equal(new errors.FALCONET_ERR_OVERLOADED('spool full').statusCode, 503)
})

t.test('every FALCONET_ERR_ code src/ answers with is one declared in errors.ts', async (t) => {
  const src = new URL('../src/', import.meta.url).pathname
  const files = readdirSync(src, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'))
  const named = new Set(files.flatMap((f) => [...readFileSync(join(src, f), 'utf8').matchAll(/['"`](FALCONET_ERR_[A-Z_]+)['"`]/g)].map((m) => m[1] as string)))
  t.ok(named.size > 3, 'found codes named by string')
  t.same([...named].filter((code) => !(code in errors)).sort(), [], 'codes answered by hand but not declared (declare them in src/errors.ts and docs/errors.md)')
})
