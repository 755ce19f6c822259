import type { FieldValue } from './event.js'

/**
 * The connection a Falco socket event is about, from its fields, for every encoder (ASFF Network,
 * OCSF endpoints). Rules print the tuple as fd.name ("client-ip:port->server-ip:port", with fd.type
 * ipv4/ipv6; IPv6 addresses contain colons too); fd.cip / fd.sip / fd.cport / fd.sport, when a rule
 * names them, win. The direction comes from the syscall.
 */
export interface Connection {
  clientIp?: string
  serverIp?: string
  clientPort?: number
  serverPort?: number
  direction?: 'IN' | 'OUT'
  protocol?: string
}

const CLIENT_SIDE = new Set(['connect', 'sendto', 'sendmsg'])
const SERVER_SIDE = new Set(['accept', 'accept4', 'listen', 'recvfrom', 'recvmsg'])
const TUPLE = /^(.+):(\d{1,5})->(.+):(\d{1,5})$/

export function connectionOf(fields: Record<string, FieldValue>, maxText = 1024): Connection | undefined {
  // "<NA>" is Falco's "not available" (a field the event does not have), never a value.
  const text = (v: FieldValue | undefined) => (typeof v === 'string' && /\S/.test(v) && v !== '<NA>' ? v.slice(0, maxText) : typeof v === 'number' ? String(v) : undefined)
  const tuple = /^ipv[46]$/.test(text(fields['fd.type']) ?? '') ? TUPLE.exec(text(fields['fd.name']) ?? '') : null
  const clientIp = text(fields['fd.cip']) ?? tuple?.[1]
  const serverIp = text(fields['fd.sip']) ?? tuple?.[3]
  if (!clientIp && !serverIp) return undefined
  const c: Connection = {}
  if (clientIp) c.clientIp = clientIp
  if (serverIp) c.serverIp = serverIp
  const clientPort = port(fields['fd.cport'] ?? tuple?.[2])
  if (clientPort !== undefined) c.clientPort = clientPort
  const serverPort = port(fields['fd.sport'] ?? tuple?.[4])
  if (serverPort !== undefined) c.serverPort = serverPort
  const type = text(fields['evt.type'])
  if (type && CLIENT_SIDE.has(type)) c.direction = 'OUT'
  if (type && SERVER_SIDE.has(type)) c.direction = 'IN'
  const protocol = text(fields['fd.l4proto'])
  if (protocol) c.protocol = protocol
  return c
}

function port(v: FieldValue | undefined): number | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN
  return Number.isInteger(n) && n >= 0 && n <= 65535 ? n : undefined
}
