import t from 'tap'
import { Writable } from 'node:stream'
import { createProgress } from '../../src/cli/progress.js'

/** A stream that records what is written; `isTTY` as a terminal (with the cursor calls cli-progress makes) or not. */
function stream(isTTY: boolean) {
  let text = ''
  const s = new Writable({
    write(chunk, _enc, done) {
      text += chunk
      done()
    },
  }) as Writable & Record<string, unknown>
  if (isTTY) Object.assign(s, { isTTY: true, columns: 100, cursorTo: () => true, clearLine: () => true, clearScreenDown: () => true, moveCursor: () => true })
  return { s: s as unknown as NodeJS.WritableStream & { isTTY?: boolean }, text: () => text }
}

t.test('on a terminal: a bar with the percentage and the events sent, lines printed above it', async (t) => {
  const out = stream(true)
  const progress = createProgress(out.s, 1000, 'Falco alerts')
  progress.update(500, 1234)
  progress.log('line 7: not a JSON object\n')
  progress.stop() // draws what is waiting, then clears the bar
  t.match(out.text(), /line 7: not a JSON object\n(\x1b\[\d*G)?replay \[█+░+\] 50% \| 1,234 Falco alerts \| [\d,]+\/s \| ETA/, 'the line, then the bar below it')
})

t.test('without a size (standard input): the counts, no bar', async (t) => {
  const out = stream(true)
  const progress = createProgress(out.s, undefined, 'audit events')
  progress.update(10, 42)
  progress.stop()
  t.match(out.text(), /replay 42 audit events \| [\d,]+\/s/)
  t.notMatch(out.text(), /%/)
})

t.test('not a terminal, or --no-progress: nothing but the lines', async (t) => {
  for (const [isTTY, enabled] of [
    [false, true],
    [true, false],
  ] as const) {
    const out = stream(isTTY)
    const progress = createProgress(out.s, 1000, 'Falco alerts', enabled)
    progress.update(500, 10)
    progress.log('line 3: bad\n')
    progress.stop()
    t.equal(out.text(), 'line 3: bad\n', `isTTY ${isTTY}, enabled ${enabled}`)
  }
})
