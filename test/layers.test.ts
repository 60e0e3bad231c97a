// The tree reads from the CLI down to the core: every import in lib/ goes to its own layer or a
// lower one, the core imports no Fastify, and public types come from types/index.d.ts.
import { test } from 'tap'
import fs from 'node:fs'
import path from 'node:path'

const LIB = path.join(__dirname, '..', 'lib')
const RANK: Record<string, number> = { core: 0, fastify: 1, mount: 2, 'proxy-protocol': 2, server: 3, '.': 4 }

function files (dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => e.isDirectory() ? files(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : [])
}

const layerOf = (file: string): string => path.relative(LIB, path.dirname(file)).split(path.sep)[0] || '.'

test('imports run down the layers', async (t) => {
  const all = files(LIB)
  t.ok(all.length > 40, 'every file of lib/ is read')
  for (const file of all) {
    const from = layerOf(file)
    t.ok(from in RANK, `${path.relative(LIB, file)} is in a known layer`)
    const source = fs.readFileSync(file, 'utf8')
    for (const [, spec] of source.matchAll(/from '([^']+)'/g)) {
      const name = path.relative(LIB, file)
      if (!spec.startsWith('.')) {
        if (from === 'core') t.notOk(/^fastify($|-plugin$|\/)/.test(spec), `${name}: the core imports no Fastify (${spec})`)
        continue
      }
      const target = path.resolve(path.dirname(file), spec)
      if (path.relative(LIB, target).startsWith('..')) {
        t.equal(path.relative(path.join(LIB, '..'), target), path.join('types'), `${name}: outside lib/ only the type contract (${spec})`)
        t.match(source, new RegExp(`import type [^\\n]*from '${spec.replace(/\./g, '\\.')}'`), `${name}: the contract is imported for types only`)
        continue
      }
      const to = layerOf(target + '.ts')
      t.ok(RANK[to] < RANK[from] || to === from, `${name} -> ${spec}: ${from} may import ${to}`)
    }
  }
})
