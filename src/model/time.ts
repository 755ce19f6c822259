/**
 * Times inside falconet are RFC 3339 UTC with exactly nine fractional digits
 * (2026-07-30T09:14:03.512345678Z): Falco's own precision, accepted by ASFF, and a form in which
 * string order is time order, so comparisons need no parsing.
 */
const UTC = /^(\d{4}-\d{2}-\d{2}T(?:[01]\d|2[0-3]):\d{2}:\d{2})(?:\.(\d{1,9}))?Z$/i

/**
 * The canonical form itself: what every time falconet writes looks like. Hours 00 to 23 (RFC 3339's):
 * Date.parse also takes 24:00:00, the next midnight, which as written would sort before it. That
 * one is converted by canonicalTime like a time with an offset.
 */
export const CANONICAL = /^\d{4}-\d{2}-\d{2}T(?:[01]\d|2[0-3]):\d{2}:\d{2}\.\d{9}Z$/

/** Any RFC 3339 time Date.parse accepts → canonical form (sub-millisecond digits kept for UTC input). */
export function canonicalTime(value: string): string {
  const m = UTC.exec(value)
  // Kept as written on a day its month has: Date.parse also takes 2026-04-31 (as 1 May), which as
  // written would sort before 2026-05-01 (laterMs compares canonical times as text).
  if (m && inMonth(m[1]!)) return `${m[1]!.toUpperCase()}.${(m[2] ?? '').padEnd(9, '0')}Z`
  return fromMs(Date.parse(value))
}

/** Whether the day of `YYYY-MM-DD…` is one its month has (a month outside 1-12 Date.parse refuses). */
function inMonth(text: string): boolean {
  const day = Number(text.slice(8, 10))
  return day <= 28 || day <= daysInMonth(Number(text.slice(0, 4)), Number(text.slice(5, 7)))
}

/** Days in `month` (1-12) of `year`, Gregorian for every year (Date.UTC would read 0-99 as 1900-1999). */
export function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31
}

/** The last parseTime: an alert's time is parsed when it is read and again when judged against the clock. */
let lastParsed = ''
let lastParsedMs = Number.NaN

/**
 * The day (`YYYY-MM-DD`) of the last canonical time Date.parse read, and that day's midnight (ms,
 * as Date.parse counts it: 2026-02-30 is 2 March's). A node's alerts share a day: the next times
 * on it are read from their digits.
 */
let knownDay = ''
let knownDayMs = Number.NaN

/** Date.parse, remembering its last answer; a canonical time on the day last parsed read from its digits (the same answer). */
export function parseTime(text: string): number {
  if (text === lastParsed) return lastParsedMs
  const clock = knownDay !== '' && typeof text === 'string' && text.startsWith(knownDay) ? clockMs(text) : -1
  lastParsedMs = clock >= 0 ? knownDayMs + clock : dateParse(text)
  lastParsed = text
  return lastParsedMs
}

function dateParse(text: string): number {
  const ms = Date.parse(text)
  // A day Date.parse refuses (month 13) is remembered with NaN: its times are all NaN.
  const clock = clockMs(text)
  if (clock >= 0) {
    knownDay = text.slice(0, 10)
    knownDayMs = ms - clock
  }
  return ms
}

/**
 * The milliseconds since midnight of a canonical time (CANONICAL) whose minutes and seconds are
 * ones Date.parse takes (up to 59; it refuses 60), else -1. Digits past the millisecond are
 * dropped, as Date.parse drops them.
 */
function clockMs(text: string): number {
  if (typeof text !== 'string' || !CANONICAL.test(text)) return -1
  const minutes = twoDigits(text, 14)
  const seconds = twoDigits(text, 17)
  if (minutes > 59 || seconds > 59) return -1
  return ((twoDigits(text, 11) * 60 + minutes) * 60 + seconds) * 1000 + twoDigits(text, 20) * 10 + digitAt(text, 22)
}

/** The decimal digit at `i` (a digit there: CANONICAL says so). */
function digitAt(text: string, i: number): number {
  return text.charCodeAt(i) - 48
}

function twoDigits(text: string, i: number): number {
  return digitAt(text, i) * 10 + digitAt(text, i + 1)
}

/** The last fromMs: under load many requests are received within the same millisecond. */
let lastMs = Number.NaN
let lastText = ''

export function fromMs(ms: number): string {
  if (ms === lastMs) return lastText
  // toISOString ends in .sssZ: six more fractional digits go before the Z.
  const text = new Date(ms).toISOString().slice(0, -1) + '000000Z'
  lastMs = ms
  lastText = text
  return text
}

export function nowTime(): string {
  return fromMs(Date.now())
}

/**
 * The second (`YYYY-MM-DDTHH:MM:SS.`) of the last canonical time addMs found to be a real one: its
 * answer through Date began with it. A storm's UpdatedAt moves on 1 ms at a time within a second.
 */
let realSecond = ''

/** `time` plus whole milliseconds, keeping its sub-millisecond digits. */
export function addMs(time: string, ms: number): string {
  // Within the second last checked, milliseconds that stay in it are added as text: the same answer.
  if (realSecond !== '' && time.startsWith(realSecond) && Number.isInteger(ms) && CANONICAL.test(time)) {
    const within = Number(time.slice(20, 23)) + ms
    if (within >= 0 && within <= 999) return realSecond + String(within).padStart(3, '0') + time.slice(23)
  }
  const sub = time.slice(23, 29) // the six digits after the milliseconds
  // Not through fromMs: its one remembered answer is the receipt time, which every request asks for.
  const later = new Date(Date.parse(time) + ms).toISOString().slice(0, 23) + sub + 'Z'
  const second = time.slice(0, 20)
  if (later.startsWith(second) && CANONICAL.test(time)) realSecond = second
  return later
}

/**
 * Whether `a` falls in a later millisecond than `b` (what Security Hub can tell apart). Canonical
 * times compare as text, their first 23 characters being the millisecond: no Date.parse.
 */
export function laterMs(a: string, b: string): boolean {
  if (CANONICAL.test(a) && CANONICAL.test(b)) return a.slice(0, 23) > b.slice(0, 23)
  return Date.parse(a) > Date.parse(b)
}

/**
 * How far `time` is ahead of `now` (ms; ≤ 0 when it is not). A sender's clock may run a little
 * fast; far beyond that, a time is an attack on finding lifetimes and UpdatedAt ordering.
 */
export function aheadBy(time: string, now: number): number {
  return parseTime(time) - now
}

/** The reason a time is refused, or undefined when it is within the allowed skew. */
export function futureTimeProblem(time: string, maxSkewMs: number, now = Date.now()): string | undefined {
  const ahead = aheadBy(time, now)
  if (!(ahead > maxSkewMs)) return undefined
  return `time ${time} is ${Math.round(ahead / 1000)} s ahead of falconet's clock (more than sources.maxFutureSkewSecs = ${Math.round(maxSkewMs / 1000)} s)`
}
