import { createRequire } from 'node:module'
import type * as CliProgress from 'cli-progress'

/**
 * The replay's progress line on stderr (cli-progress), drawn only when stderr is a terminal: in a
 * pipe, a CI log or a file it stays silent and only the final summary is printed.
 */
export interface Progress {
  /** `done` of the input's size read, `events` sent so far. */
  update(done: number, events: number): void
  /** Print a line above the bar (or plainly, without one). */
  log(text: string): void
  stop(): void
}

export function createProgress(stream: NodeJS.WritableStream & { isTTY?: boolean }, totalBytes: number | undefined, unit: string, enabled = true): Progress {
  if (!enabled || !stream.isTTY) {
    return { update: () => {}, log: (text) => void stream.write(text), stop: () => {} }
  }
  // Loaded only when a bar is drawn: `serve` imports the replay command too (idle RSS).
  const { MultiBar, Presets } = createRequire(import.meta.url)('cli-progress') as typeof CliProgress
  const started = Date.now()
  // A MultiBar of one: it prints lines above the bar (a SingleBar restores the cursor it saved at
  // the start when it stops, which lands on those lines).
  const multi = new MultiBar(
    {
      stream,
      // Without a size (standard input) there is no bar or ETA, only the counts.
      format: totalBytes ? `replay [{bar}] {percentage}% | {events} ${unit} | {rate}/s | ETA {eta_formatted}` : `replay {events} ${unit} | {rate}/s | {duration_formatted}`,
      hideCursor: true,
      clearOnComplete: true,
      etaBuffer: 50,
      // No SIGINT/SIGTERM handlers of its own: replay's handler prints the summary.
      gracefulExit: false,
    },
    Presets.shades_classic,
  )
  const bar = multi.create(totalBytes || 1, 0, { events: '0', rate: '0' })
  return {
    update(done, events) {
      const secs = (Date.now() - started) / 1000
      bar.update(totalBytes ? Math.min(done, totalBytes) : 0, { events: events.toLocaleString('en-US'), rate: secs > 0 ? Math.round(events / secs).toLocaleString('en-US') : '0' })
    },
    // Drawn at the next redraw (10 a second), with the bar below.
    log: (text) => multi.log(text),
    stop() {
      multi.update() // lines still waiting for a redraw are printed, not lost
      multi.stop()
    },
  }
}
