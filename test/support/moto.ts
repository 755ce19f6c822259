import { spawn, type ChildProcess } from 'node:child_process'
import { freePort, waitFor } from './net.js'

/**
 * A real moto_server on a free loopback port, one per test file. Tests talk to it with the real
 * AWS SDK clients through the standard AWS_ENDPOINT_URL_<SERVICE> variables.
 */
export interface Moto {
  endpoint: string
  port: number
  stop(): Promise<void>
}

export async function startMoto(): Promise<Moto> {
  const port = await freePort()
  const child = spawn('python3', ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  child.stderr!.on('data', (d) => (stderr = (stderr + d).slice(-4000)))
  const endpoint = `http://127.0.0.1:${port}`
  try {
    await waitFor(
      async () => (await fetch(`${endpoint}/moto-api/`)).ok,
      20_000,
      () => `moto_server did not start: ${stderr}`,
    )
  } catch (err) {
    child.kill('SIGKILL')
    throw err
  }
  return { endpoint, port, stop: () => stopChild(child) }
}

export function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
    child.once('exit', () => {
      clearTimeout(timer)
      resolve()
    })
    child.kill(signal)
  })
}

/** Environment for the AWS SDK pointed at moto with dummy credentials (moto accepts any). */
export function awsEnv(moto: Moto, region = 'eu-west-1'): Record<string, string> {
  return {
    AWS_REGION: region,
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
    AWS_ENDPOINT_URL_SECURITYHUB: moto.endpoint,
    AWS_ENDPOINT_URL_STS: moto.endpoint,
    AWS_EC2_METADATA_DISABLED: 'true',
  }
}
