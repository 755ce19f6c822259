import t from 'tap'
import { readFileSync } from 'node:fs'
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
