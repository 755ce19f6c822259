import t from 'tap'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createAuditDetector } from '../../src/detect/audit/detector.js'
import { ThreatLists } from '../../src/detect/threat-intel/lists.js'
import { validateConfig } from '../../src/config/load.js'
import { DEFAULT_SEVERITY_MAPPING, SEVERITY_LABELS } from '../../src/model/severity.js'
import { MemoryStore } from '../support/audit.js'
import { attackStories, benignTraffic, BLOCKLISTED, TOR_EXIT } from '../support/audit-corpus.js'
import type { AuditEvent } from '../../src/model/audit-event.js'

/**
 * The project's own labelled set: attack stories among ordinary EKS traffic, through one detector
 * in time order (as the pipeline sees them). A story is detected when one of its events gives a
 * finding of at least the story's severity; a benign event with any finding above INFORMATIONAL
 * is a false positive. The figures are printed for the note.
 */
t.test('labelled set: recall on attack stories, false positives on benign EKS traffic', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'falconet-labelled-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'tor.txt'), `# test Tor exits\n185.220.101.0/24\n2a0b:f4c2::/32\n`)
  writeFileSync(join(dir, 'block.txt'), `${BLOCKLISTED}\n`)
  const lists = new ThreatLists({
    lists: [
      { name: 'tor-exit', files: [join(dir, 'tor.txt')], urls: [], refreshSecs: 3600, maxBytes: 1 << 20 },
      { name: 'org-blocklist', kind: 'malicious', files: [join(dir, 'block.txt')], urls: [], refreshSecs: 3600, maxBytes: 1 << 20 },
    ],
    fileCheckSecs: 60,
  })
  t.ok(lists.match(TOR_EXIT).length === 1)

  const benign = benignTraffic(30)
  const stories = attackStories()
  // Stories are spread through the benign traffic; every event keeps its label.
  const stream: Array<{ e: AuditEvent; story?: number }> = benign.map((e) => ({ e }))
  stories.forEach((s, i) => {
    const at = Math.floor(((i + 1) * stream.length) / (stories.length + 1))
    stream.splice(at, 0, ...s.events.map((e) => ({ e, story: i })))
  })
  const detect = createAuditDetector(validateConfig({}).audit, { store: new MemoryStore(), now: () => Date.parse('2026-11-21T09:00:00Z'), threatLists: lists })
  const rank = (label: string) => SEVERITY_LABELS.indexOf(label as (typeof SEVERITY_LABELS)[number])
  const best = new Map<number, string>()
  const falsePositives: string[] = []
  let informational = 0
  for (const { e, story } of stream) {
    for (const f of detect(e)) {
      const label = DEFAULT_SEVERITY_MAPPING[f.priority]
      if (story === undefined) {
        if (label === 'INFORMATIONAL') informational++
        else falsePositives.push(`${f.fields['detection.id']} (${label}): ${f.output}`)
      } else if (rank(label) > rank(best.get(story) ?? 'NONE')) best.set(story, label)
    }
  }
  const missed = stories.filter((s, i) => !best.has(i) || rank(best.get(i)!) < rank(s.atLeast)).map((s) => `${s.name} (wanted ${s.atLeast}, got ${best.get(stories.indexOf(s)) ?? 'nothing'})`)
  const recall = (stories.length - missed.length) / stories.length
  t.comment(`labelled set: ${stories.length} attack stories (${stories.reduce((n, s) => n + s.events.length, 0)} events) among ${benign.length} benign events`)
  t.comment(`recall ${recall.toFixed(2)} (${stories.length - missed.length}/${stories.length}); false positives ${falsePositives.length}/${benign.length} benign events; INFORMATIONAL records on benign events: ${informational}`)
  t.ok(benign.length >= 300, `${benign.length} benign events`)
  t.same(missed, [], 'every story detected at its severity')
  t.ok(recall >= 0.95)
  t.same(falsePositives, [], 'no finding above INFORMATIONAL on benign traffic')
})
