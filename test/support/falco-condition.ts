// A reader for Falco's condition language, enough to list what a condition refers to: the macros it
// calls, the fields it reads and the lists named inside `in (...)`. Grammar from Falco's docs
// ("Condition syntax"): not / and / or, parentheses, `field op value`, `field exists`,
// `field in (a, b, list)`. It throws on anything it does not understand, so a malformed condition
// fails the test instead of being skipped.

const BINARY_OPERATORS = new Set(['=', '==', '!=', '<', '<=', '>', '>=', 'contains', 'icontains', 'bcontains', 'startswith', 'bstartswith', 'endswith', 'glob', 'iglob', 'regex'])
const SET_OPERATORS = new Set(['in', 'intersects', 'pmatch'])

export interface ConditionRefs {
  macros: string[]
  fields: string[]
  /** Items of `field in (...)`, with the field they are compared to. */
  setItems: Array<{ field: string; item: string }>
}

type Token = { kind: 'word' | 'string' | '(' | ')' | ','; text: string }

function tokenize(condition: string): Token[] {
  const tokens: Token[] = []
  const re = /\s*(?:("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|([(),])|(!=|==|<=|>=|=|<|>)|([^\s(),="'<>!]+))/y
  const rest = condition.trim()
  re.lastIndex = 0
  while (re.lastIndex < rest.length) {
    const start = re.lastIndex
    const m = re.exec(rest)
    if (m === null || re.lastIndex === start) throw new Error(`cannot read condition at: ${rest.slice(start, start + 40)}`)
    if (m[1] !== undefined) tokens.push({ kind: 'string', text: m[1].slice(1, -1) })
    else if (m[2] !== undefined) tokens.push({ kind: m[2] as '(' | ')' | ',', text: m[2] })
    else tokens.push({ kind: 'word', text: (m[3] ?? m[4]) as string })
  }
  return tokens
}

/** Field name without its argument: proc.aname[2] → proc.aname, jevt.value[/stage] → jevt.value. */
export function baseField(field: string): string {
  const at = field.indexOf('[')
  return at === -1 ? field : field.slice(0, at)
}

export function conditionRefs(condition: string): ConditionRefs {
  const tokens = tokenize(condition)
  const refs: ConditionRefs = { macros: [], fields: [], setItems: [] }
  let i = 0
  const peek = (): Token | undefined => tokens[i]
  const next = (): Token => {
    const t = tokens[i++]
    if (t === undefined) throw new Error('condition ends too early')
    return t
  }
  const expect = (kind: Token['kind']): Token => {
    const t = next()
    if (t.kind !== kind) throw new Error(`expected ${kind}, found ${t.text}`)
    return t
  }

  const orExpr = (): void => {
    andExpr()
    while (peek()?.text === 'or') {
      i++
      andExpr()
    }
  }
  const andExpr = (): void => {
    notExpr()
    while (peek()?.text === 'and') {
      i++
      notExpr()
    }
  }
  const notExpr = (): void => {
    if (peek()?.text === 'not') {
      i++
      notExpr()
      return
    }
    primary()
  }
  const primary = (): void => {
    const t = next()
    if (t.kind === '(') {
      orExpr()
      expect(')')
      return
    }
    if (t.kind !== 'word') throw new Error(`expected a field or macro, found ${t.text}`)
    const op = peek()
    if (op?.kind === 'word' && op.text === 'exists') {
      i++
      refs.fields.push(t.text)
      return
    }
    if (op?.kind === 'word' && SET_OPERATORS.has(op.text)) {
      i++
      refs.fields.push(t.text)
      expect('(')
      if (peek()?.kind !== ')') {
        for (;;) {
          const item = next()
          if (item.kind !== 'word' && item.kind !== 'string') throw new Error(`bad set item ${item.text}`)
          refs.setItems.push({ field: t.text, item: item.text })
          if (peek()?.kind === ',') {
            i++
            continue
          }
          break
        }
      }
      expect(')')
      return
    }
    if (op?.kind === 'word' && BINARY_OPERATORS.has(op.text)) {
      i++
      refs.fields.push(t.text)
      const value = next()
      if (value.kind !== 'word' && value.kind !== 'string') throw new Error(`bad value after ${t.text} ${op.text}`)
      return
    }
    if (t.text.includes('.')) throw new Error(`field ${t.text} used without an operator`)
    refs.macros.push(t.text)
  }

  orExpr()
  if (i !== tokens.length) throw new Error(`unexpected ${tokens[i]?.text} after the condition`)
  return refs
}

/** %field and %field[arg] references of an output string. */
export function outputFields(output: string): string[] {
  return [...output.matchAll(/%([a-zA-Z_][\w.]*(?:\[[^\]]*\])?)/g)].map((m) => m[1] as string)
}
