/**
 * A bounded table that hands out one instance per string value, for long-lived caches whose entries
 * repeat values (namespaces, nodes, rules, images): one copy in memory instead of one per entry.
 * Emptied when full, so values that stop recurring cannot pile up; strings already handed out stay
 * valid either way. `own` makes the instance the table keeps (e.g. a copy that does not pin a larger
 * string it was sliced from).
 */
export function stringTable(max: number, own: (value: string) => string = (value) => value): (value: string) => string {
  let table = new Map<string, string>()
  return (value) => {
    const known = table.get(value)
    if (known !== undefined) return known
    if (table.size >= max) table = new Map()
    const kept = own(value)
    table.set(kept, kept)
    return kept
  }
}
