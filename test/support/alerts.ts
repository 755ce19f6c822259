import { falcoFixture } from './fixtures.js'

/** A real fixture alert with another pod and time: the same rule seen elsewhere, later. */
export function alertBody(prefix: string, options: { pod?: string; namespace?: string; seq?: number } = {}): string {
  const alert = JSON.parse(falcoFixture(prefix).body)
  if (options.pod) alert.output_fields['k8s.pod.name'] = options.pod
  if (options.namespace) alert.output_fields['k8s.ns.name'] = options.namespace
  if (options.seq !== undefined) alert.time = new Date(Date.parse('2026-07-30T10:00:00Z') + options.seq).toISOString().replace('Z', '000000Z')
  return JSON.stringify(alert)
}

/** POST every body to falconet with `concurrency` requests in flight; returns the statuses. */
export async function postAll(url: string, bodies: string[], concurrency = 8): Promise<number[]> {
  const statuses: number[] = new Array(bodies.length)
  let next = 0
  const worker = async () => {
    while (next < bodies.length) {
      const i = next++
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: bodies[i] })
      await res.arrayBuffer()
      statuses[i] = res.status
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return statuses
}
