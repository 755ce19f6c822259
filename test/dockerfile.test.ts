import t from 'tap'
import { readFileSync } from 'node:fs'

/**
 * No Docker engine runs on the build machines, so the Dockerfile is checked statically: the
 * promises it makes (multi-stage, LTS base, no dev dependencies, non-root, health check) and that
 * it starts the same program as `npm start`.
 */
const dockerfile = readFileSync(new URL('../Dockerfile', import.meta.url), 'utf8')
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))

t.test('multi-stage on an even (LTS) Node.js major', async (t) => {
  t.ok(dockerfile.match(/^FROM /gm)!.length >= 2)
  const major = Number(/ARG NODE_VERSION=(\d+)/.exec(dockerfile)?.[1])
  t.ok(major >= 24 && major % 2 === 0, `Node ${major} is an LTS line`)
})

t.test('the final stage has production dependencies only and runs as a numeric non-root user', async (t) => {
  t.match(dockerfile, /npm ci --omit=dev/)
  const final = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '))
  t.notMatch(final, /npm (ci|install)(?![^\n]*--omit=dev)/, 'no full install in the final stage')
  t.match(final, /^USER (\d+):(\d+)$/m)
  t.notMatch(final, /^USER (0|root)/m)
  t.match(final, /HEALTHCHECK[\s\S]*\/healthz/)
  t.match(final, /EXPOSE 2801/)
})

t.test('it starts what npm start starts', async (t) => {
  const [, script] = /^node (\S+) (\w+)$/.exec(pkg.scripts.start) ?? []
  t.ok(script, 'npm start is "node <file> <command>"')
  t.match(dockerfile, new RegExp(`ENTRYPOINT \\["node", "${script}"\\]`))
  t.match(dockerfile, /CMD \["serve"\]/)
  t.equal(pkg.bin.falconet, script)
})

t.test('hadolint (every rule, info level and up) finds nothing, and does find a bad Dockerfile', async (t) => {
  const { HADOLINT, run } = await import('./support/k8s-tools.js')
  const file = new URL('../Dockerfile', import.meta.url).pathname
  const clean = run(HADOLINT, ['--failure-threshold', 'info', '--format', 'json', file])
  t.equal(clean.status, 0, clean.stdout)
  t.same(JSON.parse(clean.stdout), [])
  const bad = run(HADOLINT, ['--failure-threshold', 'info', '--format', 'json', '-'], { input: 'FROM node:latest\nRUN apt-get update && apt-get install -y curl\nUSER root\n' })
  t.not(bad.status, 0)
  const codes = (JSON.parse(bad.stdout) as Array<{ code: string }>).map((f) => f.code)
  t.ok(codes.includes('DL3007') && codes.includes('DL3008'), `latest tag and unpinned apt packages are findings: ${codes.join(', ')}`)
})
