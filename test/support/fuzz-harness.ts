import { unlimited } from './app.js'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { Registry } from 'prom-client'
import type { LightMyRequestResponse } from 'fastify'
import { buildApp } from '../../src/server/app.js'
import { validateConfig } from '../../src/config/load.js'
import { Spool } from '../../src/delivery/spool.js'
import { findingPolicy } from '../../src/aggregate/policy.js'
import { createPipeline, type Ingest } from '../../src/pipeline/pipeline.js'
import { AUDIT_OUTBOX, createAuditIngest, type AuditIngest } from '../../src/pipeline/audit.js'
import { auditDetectorOn } from '../../src/falconet.js'
import { Value } from 'typebox/value'
import { SecurityEvent } from '../../src/model/event.js'

/**
 * The whole ingest path as serve.ts wires it (real spool, audit detectors, the audit outbox that
 * stores raw audit events for the Falco bridge), with every object handed past the parsers
 * inspected for re-pointed prototypes.
 */
export async function fuzzApp(overrides: Record<string, unknown> = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'falconet-fuzz-'))
  // Thousands of cases from one address: the rate limits would answer most of them (429 is tested in test/server/auth.test.ts).
  const config = validateConfig(unlimited({ dataDir, ...overrides }))
  const spool = new Spool({ dir: join(dataDir, 'spool'), maxBytes: 1 << 30, durability: 'process', resendMs: {}, logger: pino({ level: 'silent' }), policy: findingPolicy({ windowMs: 86_400_000 }) })
  const problems: string[] = []
  const pipeline = createPipeline({ keyFields: {}, severityMapping: config.severityMapping, windowMs: 86_400_000 }, spool, ['probe'])
  const ingest: Ingest = (events, options) => {
    problems.push(...prototypeProblems(events, 'events handed to the pipeline'))
    for (const event of events) problems.push(...eventProblems(event))
    return pipeline(events, options)
  }
  const audit = createAuditIngest(auditDetectorOn(config.audit, spool.state), ingest, spool, true)
  const auditIngest: AuditIngest = (events) => {
    problems.push(...prototypeProblems(events, 'audit events handed to the detectors'))
    return audit(events)
  }
  const app = await buildApp({ config, logger: pino({ level: 'silent' }), ingest, auditIngest, registry: new Registry(), readiness: { sinks: () => ({}) }, seen: (key) => spool.unseen([key], 'chunk').length === 0 })
  return {
    app,
    post: (url: string, payload: Buffer | string, headers: Record<string, string>) => app.inject({ method: 'POST', url, headers, payload }),
    /** Objects that reached the pipeline with a bad prototype since the last call. */
    takeProblems: () => problems.splice(0),
    findings: () => spool.due('probe', 100_000, Date.now(), true).items.map((d) => d.state),
    outbox: () => spool.outboxQueue(AUDIT_OUTBOX).due(100_000, Date.now(), true).items,
    close: async () => {
      await app.close()
      await spool.close()
    },
  }
}
export type FuzzApp = Awaited<ReturnType<typeof fuzzApp>>

const CANONICAL_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z$/

/** What is wrong with a SecurityEvent a source or detector hands on: its schema, its time, its prototypes. */
export function eventProblems(event: unknown): string[] {
  const problems = [...Value.Errors(SecurityEvent, event)].slice(0, 3).map((e) => `event ${e.instancePath} ${e.message}`)
  const time = (event as { time?: unknown }).time
  if (typeof time !== 'string' || !CANONICAL_TIME.test(time)) problems.push(`event time ${JSON.stringify(time)} is not canonical`)
  return [...problems, ...prototypeProblems(event, 'event')]
}

/** A stack frame or a source path: what a client must never be shown. */
const INTERNALS = /\n\s+at |\bat [\w.<>$]+ \(|\(?(file:\/\/|node:internal|\/[\w./-]*\/(src|node_modules|dist)\/[\w./-]+\.(ts|js|mjs|cjs))/

/**
 * The contract with every client: 2xx, or a 4xx / 503 (back-pressure) that says why as
 * `{statusCode, error, code, message}` JSON — never a 500, never internals. Returns what is wrong.
 */
export function answerProblems(res: LightMyRequestResponse): string[] {
  const problems: string[] = []
  const s = res.statusCode
  if (!((s >= 200 && s < 300) || (s >= 400 && s < 500) || s === 503)) problems.push(`status ${s}`)
  if (INTERNALS.test(res.body)) problems.push('the body shows internals (stack frame or source path)')
  if (s >= 400) {
    let body: any
    try {
      body = JSON.parse(res.body)
    } catch {
      problems.push('the refusal is not JSON')
    }
    if (body) {
      if (body.statusCode !== s) problems.push(`statusCode ${body.statusCode} in a ${s} body`)
      if (typeof body.code !== 'string' || !body.code.startsWith('F')) problems.push(`code ${body.code}`)
      if (typeof body.message !== 'string' || body.message.trim() === '') problems.push('no reason in the message')
      else if (body.message.length > 4096) problems.push(`a ${body.message.length}-char reason (input echoed back?)`)
    }
  }
  return problems.map((p) => `${p}: ${s} ${res.body.slice(0, 300)}`)
}

export function expectAnswer(res: LightMyRequestResponse): void {
  const problems = answerProblems(res)
  if (problems.length > 0) throw new Error(problems.join('; '))
}

const OBJECT_PROTO_KEYS = Object.getOwnPropertyNames(Object.prototype).sort().join()
const ARRAY_PROTO_KEYS = Object.getOwnPropertyNames(Array.prototype).sort().join()

/** Whether anything wrote to the shared prototypes (the pollution itself). */
export function globalPollution(): string[] {
  const problems: string[] = []
  if (({} as Record<string, unknown>).polluted !== undefined) problems.push('({}).polluted is defined')
  if (Object.getOwnPropertyNames(Object.prototype).sort().join() !== OBJECT_PROTO_KEYS) problems.push('Object.prototype gained or lost a property')
  if (Object.getOwnPropertyNames(Array.prototype).sort().join() !== ARRAY_PROTO_KEYS) problems.push('Array.prototype gained or lost a property')
  for (const key of ['toString', 'valueOf', 'hasOwnProperty', 'constructor']) {
    if (!Object.prototype.hasOwnProperty.call(Object.prototype, key)) problems.push(`Object.prototype.${key} is gone`)
  }
  return problems
}

/**
 * Every object in `value` is a plain object or array with the standard prototype, and carries no
 * key that could re-point one: no own `__proto__`, no `constructor.prototype` (fastify's own
 * poisoning checks, secure-json-parse's, look for the same two). Iterative,
 * so a deep value cannot overflow the checker itself.
 */
export function prototypeProblems(value: unknown, where: string): string[] {
  type Node = { v: unknown; key: string; parent: Node | undefined }
  const pathOf = (n: Node) => {
    const keys: string[] = []
    for (let at: Node | undefined = n; at?.parent; at = at.parent) keys.unshift(at.key)
    return `${where}${keys.map((k) => `.${k}`).join('')}`
  }
  const problems: string[] = []
  const seen = new Set<object>()
  const stack: Node[] = [{ v: value, key: '', parent: undefined }]
  while (stack.length > 0 && problems.length < 5) {
    const node = stack.pop()!
    const v = node.v
    if (v === null || typeof v !== 'object' || seen.has(v)) continue
    seen.add(v)
    const proto = Object.getPrototypeOf(v)
    if (proto !== Object.prototype && proto !== Array.prototype && proto !== null) problems.push(`${pathOf(node)} has a foreign prototype (${JSON.stringify(Object.keys(proto ?? {})).slice(0, 80)})`)
    if (Object.prototype.hasOwnProperty.call(v, '__proto__')) problems.push(`${pathOf(node)} has an own __proto__ key`)
    const ctor = Object.getOwnPropertyDescriptor(v, 'constructor')?.value
    if (ctor !== null && typeof ctor === 'object' && Object.prototype.hasOwnProperty.call(ctor, 'prototype')) problems.push(`${pathOf(node)} has constructor.prototype`)
    for (const key of Object.keys(v)) {
      const child = (v as Record<string, unknown>)[key]
      if (child !== null && typeof child === 'object') stack.push({ v: child, key, parent: node })
    }
  }
  return problems
}
