import { createServer } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

/** Poll until `check` is true; a bounded wait for something to start, not a timing assertion. */
export async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs: number, describe: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      if (await check()) return
    } catch (err) {
      // Not up yet — unless the check says it never will be.
      if (err instanceof Error && !('cause' in err) && !(err instanceof TypeError)) throw err
    }
    if (Date.now() > deadline) throw new Error(describe())
    await sleep(50)
  }
}
