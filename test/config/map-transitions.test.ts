import t from 'tap'
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

// Validating the config must not use up V8's transitions from the empty object's map: when it
// does, every object built by adding keys to `{}` (process.nextTick's task objects among them)
// gets a map of its own until the next full GC, and Node's tick code stays megamorphic for the
// life of the process (see docs/performance.md, fifth pass, the HTTP request and reply).
t.test('validateConfig leaves {} objects sharing their maps', (t) => {
  const load = fileURLToPath(new URL('../../src/config/load.ts', import.meta.url))
  const script = `
    const { validateConfig } = await import(${JSON.stringify(load)})
    validateConfig({})
    const same = new Function('a', 'b', 'return %HaveSameMap(a, b)')
    const key = Symbol('probe')
    const make = () => { const o = {}; o[key] = 1; return o }
    process.stdout.write(String(same(make(), make())))
  `
  const out = execFileSync(process.execPath, ['--allow-natives-syntax', '--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' })
  t.equal(out, 'true')
  t.end()
})
