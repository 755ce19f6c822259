import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, normalize } from 'node:path'
import t from 'tap'

/**
 * What a reader of the repository follows: every relative link in a tracked Markdown file points
 * at a file git tracks (not one a .gitignore keeps local), every `#anchor` at a heading, and the
 * files a security tool's repository is expected to have are there in their expected form.
 */
const root = join(import.meta.dirname, '..', '..')
// Tracked, or new and not ignored (about to be committed): what a clone gets.
const tracked = new Set(execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], { cwd: root, encoding: 'utf8' }).split('\n').filter(Boolean))
const markdown = [...tracked].filter((f) => f.endsWith('.md') && !f.startsWith('test/fixtures/'))
const read = (file: string): string => readFileSync(join(root, file), 'utf8')

/** Markdown without fenced code blocks and inline code, where brackets are not links. */
function prose(text: string): string {
  return text.replace(/^(```|~~~)[\s\S]*?^\1/gm, '').replace(/`[^`\n]*`/g, '')
}

function links(text: string): string[] {
  return [...prose(text).matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1] as string)
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
function anchors(text: string): Set<string> {
  const seen = new Map<string, number>()
  const out = new Set<string>()
  // Headings outside fenced blocks; inline code in a heading keeps its text in the anchor.
  for (const m of text.replace(/^(```|~~~)[\s\S]*?^\1/gm, '').matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const base = (m[1] as string)
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-')
    const n = seen.get(base) ?? 0
    seen.set(base, n + 1)
    out.add(n === 0 ? base : `${base}-${n}`)
  }
  return out
}

t.test('every relative link in a tracked Markdown file resolves to a tracked file and heading', async (t) => {
  t.ok(markdown.length > 10, 'found the tracked Markdown files')
  const broken: string[] = []
  for (const file of markdown) {
    for (const target of links(read(file))) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue // http:, https:, mailto:
      const [path, anchor] = target.split('#') as [string, string | undefined]
      const resolved = path === '' ? file : normalize(join(dirname(file), decodeURIComponent(path))).replace(/\/$/, '')
      const isDir = [...tracked].some((f) => f.startsWith(`${resolved}/`))
      if (!tracked.has(resolved) && !isDir) {
        broken.push(`${file}: ${target} (not a tracked file)`)
        continue
      }
      if (anchor && resolved.endsWith('.md') && !anchors(read(resolved)).has(anchor)) broken.push(`${file}: ${target} (no such heading)`)
    }
  }
  t.same(broken, [], 'no broken links')
})

t.test('the checker sees a link to a git-ignored file as broken', async (t) => {
  t.same(links('see ![chart](x-scratch-y.png) and [a](b.md#c) but not `[x](y)`'), ['x-scratch-y.png', 'b.md#c'])
  const ignored = execFileSync('git', ['check-ignore', '--no-index', 'bench/results/2026-11-21-scratch-throughput-latency.png'], { cwd: root, encoding: 'utf8' }).trim()
  t.equal(ignored, 'bench/results/2026-11-21-scratch-throughput-latency.png', 'scratch bench files are ignored, so never tracked')
  t.ok(anchors('## Who may send: credentials, TLS, rate limits\n').has('who-may-send-credentials-tls-rate-limits'))
  t.ok(anchors('## The `falconet` command\n').has('the-falconet-command'))
  t.notOk(anchors('```sh\n# not a heading\n```\n').has('not-a-heading'))
})

t.test('LICENSE is the full Apache License 2.0, as package.json says', async (t) => {
  const license = read('LICENSE')
  t.equal(JSON.parse(read('package.json')).license, 'Apache-2.0')
  t.match(license, /Apache License\s+Version 2\.0, January 2004/)
  for (let section = 1; section <= 9; section++) t.match(license, new RegExp(`\\n\\s*${section}\\. [A-Z]`), `section ${section}`)
  t.match(license, /END OF TERMS AND CONDITIONS/)
  t.match(license, /APPENDIX: How to apply the Apache License/)
})

t.test('SECURITY.md, CONTRIBUTING.md and CHANGELOG.md say what they are expected to', async (t) => {
  const security = read('SECURITY.md')
  for (const heading of ['Reporting a vulnerability', 'Supported versions', 'In scope', 'Out of scope']) t.match(security, new RegExp(`^## ${heading}$`, 'm'))
  const contributing = read('CONTRIBUTING.md')
  const scripts = JSON.parse(read('package.json')).scripts as Record<string, string>
  for (const script of ['build', 'test', 'bench', 'docs', 'chart', 'values']) {
    t.ok(scripts[script], `package.json has ${script}`)
    t.match(contributing, new RegExp(`npm (run )?${script}\\b`), `CONTRIBUTING.md says how to ${script}`)
  }
  const changelog = read('CHANGELOG.md')
  t.match(changelog, /keepachangelog\.com/)
  const versions = [...changelog.matchAll(/^## \[([^\]]+)\](?: - (\d{4}-\d{2}-\d{2}))?$/gm)].map((m) => m[1] as string)
  t.same(versions.slice(0, 2), ['Unreleased', JSON.parse(read('package.json')).version], 'Unreleased first, then the package version')
  t.equal(versions.at(-1), '0.1.0', 'starts at 0.1.0')
  for (const v of versions) t.match(changelog, new RegExp(`^\\[${v.replace(/\./g, '\\.')}\\]: https://`, 'm'), `link for ${v}`)
})

/** Every metric registered in src/, by name. */
function registeredMetrics(): Set<string> {
  const names = new Set<string>()
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name)
      if (e.isDirectory()) walk(p)
      else if (p.endsWith('.ts')) for (const m of readFileSync(p, 'utf8').matchAll(/name:\s*[`'"](falconet_[a-z0-9_]+)/g)) names.add(m[1] as string)
    }
  }
  walk(join(root, 'src'))
  return names
}

t.test('the README has contents, runs without Kubernetes and troubleshoots with real metrics and log lines', async (t) => {
  const readme = read('README.md')
  const headings = anchors(readme)
  t.ok(headings.has('contents'), 'a table of contents')
  for (const a of [...prose(readme).matchAll(/\]\(#([^)]+)\)/g)].map((m) => m[1] as string)) t.ok(headings.has(a), `contents entry #${a}`)
  t.match(readme, /docker build -t falconet \./)
  t.match(readme, /docker run [^\n]*-p 2801:2801[^\n]*-v [^\n]*\/var\/lib\/falconet/)
  t.match(readme, /not published/i, 'says honestly that the image is not published yet')
  // The long reference tables live in docs/ pages the README links, not in the README.
  const moved: Array<[string, string]> = [
    ['docs/endpoints.md', '| method, path | what |'],
    ['docs/metrics.md', '| what | metrics |'],
    ['docs/receivers.md', '| type | format and limits |'],
    ['docs/asff.md', '| ASFF member | from |'],
  ]
  for (const [page, table] of moved) {
    t.match(readme, `](${page})`, `links ${page}`)
    t.notOk(readme.includes(table), `the table ${table} is not in the README`)
    t.ok(read(page).includes(table), `it is in ${page}`)
  }

  const trouble = readme.slice(readme.indexOf('## Troubleshooting'), readme.indexOf('\n## ', readme.indexOf('## Troubleshooting') + 5))
  for (const symptom of ['Security Hub', 'readyz', '401', 'spool is full', 'Fluent Bit shows retries', 'enriched']) t.match(trouble, symptom)
  const metrics = registeredMetrics()
  const named = [...trouble.matchAll(/`(falconet_[a-z0-9_]+)/g)].map((m) => m[1] as string)
  t.ok(named.length >= 8, 'names metrics')
  for (const m of named) t.ok(metrics.has(m), `${m} is a metric falconet registers`)
  // The log lines it quotes, each looked up in the code so a reworded message cannot leave it stale.
  const sources = execFileSync('git', ['grep', '-h', '-F', 'log', '--', 'src'], { cwd: root, encoding: 'utf8' })
  const quoted = [...trouble.matchAll(/`([^`]+)`/g)].map((m) => m[1] as string).filter((q) => sources.includes(`'${q}'`) || sources.includes(`\`${q}`))
  for (const line of ['sink cannot start yet', 'delivery failed, will retry', 'finding dead-lettered', 'no sink is enabled: findings are spooled but go nowhere', 'request refused', 'list/watch failed, retrying', 'Kubernetes metadata not synced in time: running un-enriched until it is']) {
    t.ok(quoted.includes(line), `quotes the log line "${line}", which falconet logs`)
  }

  const metricsDoc = read('docs/metrics.md')
  for (const m of [...metricsDoc.matchAll(/`(falconet_[a-z0-9_]+)[`{]/g)].map((x) => x[1] as string)) t.ok(metrics.has(m), `docs/metrics.md: ${m} is registered`)
})

t.test('every upstream chart the README installs has its helm repo add line', async (t) => {
  const readme = read('README.md')
  const used = new Set([...readme.matchAll(/helm (?:install|upgrade --install) \S+ ([a-z0-9-]+)\/[a-z0-9-]+/g)].map((m) => m[1] as string))
  t.ok(used.size >= 2, `installs upstream charts (${[...used].join(', ')})`)
  for (const repo of used) t.match(readme, new RegExp(`helm repo add ${repo} https://\\S+`), `helm repo add ${repo}`)
})

t.test('the README stays a front page: short, and each long section moved whole to the docs/ page it links', async (t) => {
  const readme = read('README.md')
  t.ok(Buffer.byteLength(readme) < 20_000, `README.md is ${Buffer.byteLength(readme)} bytes, under 20 KB`)
  // A moved section keeps its heading (old #anchors still land) and links its page, which has the text.
  const moved: Array<[string, string, string]> = [
    ['EKS audit logs: read, detect, bridge to Falco', 'docs/audit.md', 'every page to the end, at most 5'],
    ['Command line', 'docs/cli.md', '**Exit codes**: 0 ok; 1 failure'],
    ['Know who and where: enrichment from the Kubernetes API', 'docs/enrichment.md', 'Minimal RBAC'],
    ['Route the urgent ones to people', 'docs/routing.md', '**Inhibition** (`inhibit`, optional)'],
    ['Monitor the monitor', 'docs/monitoring.md', 'graded by what they mean for'],
    ['Delivery guarantees', 'docs/delivery.md', '**Durability level** (`spool.durability`)'],
    ['Dead letters and pending findings', 'docs/delivery.md', 'falconet dead-letters redrive [--sink S] [--id ID]'],
    ['Aggregation and storm control', 'docs/delivery.md', 'falconet_aggregation_bytes_avoided_total'],
    ['Send findings to Security Hub', 'docs/security-hub.md', 'Whole-call failures'],
    ['Who may send: credentials, TLS, rate limits', 'docs/auth.md', '# revoke-all'],
    ['Point Fluent Bit at it', 'docs/fluent-bit.md', "**Status codes are Fluent Bit's retry contract**"],
  ]
  for (const [heading, page, text] of moved) {
    const start = readme.indexOf(`\n## ${heading}\n`)
    t.ok(start >= 0, `the README keeps "## ${heading}"`)
    const section = readme.slice(start + 1, readme.indexOf('\n## ', start + 4))
    t.ok(
      prose(section)
        .split('\n')
        .filter((l) => l.trim() !== '').length <= 8,
      `"${heading}" is a few lines besides its example`,
    )
    t.match(section, `](${page}`, `"${heading}" links ${page}`)
    t.ok(read(page).includes(text), `${page} has "${text}"`)
    t.notOk(readme.includes(text), `"${text}" is not in the README any more`)
  }
})
