import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import semver from 'semver'

/**
 * package.json's engines is a promise: `npm ci` on the oldest Node.js it names must not warn
 * EBADENGINE (cookie 2, a production dependency through fastify, wanted Node.js >= 22 while we
 * promised >= 20.18). Every locked package must accept that oldest version, and the Node.js the
 * image runs; the README says both.
 */
const root = join(import.meta.dirname, '..', '..')
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { engines: { node: string } }
const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { version?: string; engines?: { node?: string } | string[]; optional?: boolean; os?: string[] }>
}
const oldest = semver.minVersion(pkg.engines.node)!.version
const imageMajor = /^ARG NODE_VERSION=(\d+)$/m.exec(readFileSync(join(root, 'Dockerfile'), 'utf8'))?.[1]

t.test("every locked package accepts the oldest Node.js package.json promises, and the image's", async (t) => {
  t.ok(semver.satisfies(process.versions.node, pkg.engines.node), `the Node.js running the tests (${process.versions.node}) is one we promise`)
  t.ok(imageMajor, 'the Dockerfile names its Node.js major')
  const refuse = (node: string) =>
    Object.entries(lock.packages)
      .filter(([path, p]) => path !== '' && !Array.isArray(p.engines) && p.engines?.node && !semver.satisfies(node, p.engines.node, { includePrerelease: true }))
      .map(([path, p]) => `${path.replace(/^.*node_modules\//, '')}@${p.version} wants node ${(p.engines as { node: string }).node}`)
  t.same(refuse(oldest), [], `none refuses Node.js ${oldest}`)
  t.same(refuse(`${imageMajor}.0.0`), [], `none refuses Node.js ${imageMajor} (the image)`)
})

t.test('the README says which Node.js to use and which the image runs', async (t) => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8')
  const [major, minor] = oldest.split('.')
  t.match(readme, new RegExp(`Node\\.js ${major}\\.${minor} or newer`), `Node.js ${major}.${minor} or newer`)
  t.match(readme, new RegExp(`the image runs [^.]*Node\\.js ${imageMajor}`), `the image's Node.js ${imageMajor}`)
})
