#!/usr/bin/env node
import { parseArgs } from 'node:util'
import { loadConfig } from '../config/load.js'
import { configSchema } from '../config/schema.js'
import { renderConfigDocs } from '../config/docs.js'
import { renderDetectionDocs } from '../detect/audit/docs.js'
import { serveProcess } from '../server/serve.js'

const USAGE = `falconet — Falco / Fluent Bit companion for Amazon EKS

Usage:
  falconet serve [--config FILE]       receive alerts on :2801 and deliver findings
  falconet validate-config FILE        check a config file; exit 2 and list every problem if bad
  falconet print-schema                the config JSON Schema
  falconet print-docs                  the config reference (docs/configuration.md)
  falconet print-detections            the audit detections (docs/detections.md)

Config: --config FILE or env FALCONET_CONFIG, overridden by env (see docs/configuration.md).`

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } },
  })
  const [command = 'serve', ...rest] = positionals
  if (values.help) {
    console.log(USAGE)
    return 0
  }
  switch (command) {
    case 'serve':
      await serveProcess(loadConfig(values.config ? { file: values.config } : {}))
      return -1 // keeps running
    case 'validate-config': {
      const file = rest[0] ?? values.config
      if (!file) {
        console.error('validate-config needs a FILE\n\n' + USAGE)
        return 2
      }
      loadConfig({ file, env: {} })
      console.log(`${file}: valid`)
      return 0
    }
    case 'print-schema':
      console.log(JSON.stringify(configSchema, null, 2))
      return 0
    case 'print-docs':
      process.stdout.write(renderConfigDocs())
      return 0
    case 'print-detections':
      process.stdout.write(renderDetectionDocs())
      return 0
    default:
      console.error(`unknown command "${command}"\n\n${USAGE}`)
      return 2
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code
  },
  (err: Error & { code?: string }) => {
    // Config and usage errors are the user's to fix: the message, no stack trace.
    if (err.code === 'FALCONET_ERR_CONFIG' || err.code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(err.message)
      process.exitCode = 2
    } else {
      console.error(err)
      process.exitCode = 1
    }
  },
)
