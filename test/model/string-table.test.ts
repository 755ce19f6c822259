import t from 'tap'
import { stringTable } from '../../src/model/string-table.js'

t.test('a value is owned once while the table holds it; the table empties at its bound', async (t) => {
  const owned: string[] = []
  const shared = stringTable(3, (value) => (owned.push(value), value))
  t.same(['a', 'b', 'a', 'c', 'b'].map(shared), ['a', 'b', 'a', 'c', 'b'], 'every value comes back equal')
  t.same(owned, ['a', 'b', 'c'], 'repeats come from the table')
  shared('d') // the fourth distinct value: the table is emptied first
  shared('a')
  t.same(owned, ['a', 'b', 'c', 'd', 'a'], 'after the bound, values are owned again (nothing piles up)')
})

t.test('without an owner the value itself is kept', async (t) => {
  const shared = stringTable(10)
  t.equal(shared('x'), 'x')
})
