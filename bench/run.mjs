#!/usr/bin/env node
/**
 * Benchmarks (skeleton): `npm run bench` builds dist/ and runs every bench/<name>.bench.mjs, each of which exports
 * `default async function (engine, report)`; report({ name, value, unit }) records one measurement. Benchmarks live
 * apart from tests: they time kernels and training steps on the adapter found (set WGTRAIN_ADAPTER to choose), they
 * do not check results. Nothing is registered yet.
 *
 *   npm run bench [-- NAME_FILTER]
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { createEngine } from '../dist/index.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const filter = process.argv[2] ? new RegExp(process.argv[2]) : null;
const files = readdirSync(here).filter((f) => f.endsWith('.bench.mjs') && (!filter || filter.test(f))).sort();

const engine = await createEngine();
const rows = [];
try {
  for (const f of files) {
    const mod = await import(pathToFileURL(join(here, f)).href);
    await mod.default(engine, (r) => {
      rows.push({ bench: f.replace(/\.bench\.mjs$/, ''), ...r });
      console.log(`${f}: ${r.name} ${r.value} ${r.unit}`);
    });
  }
} finally {
  engine.destroy();
}
if (files.length === 0) console.log('bench: no benchmarks yet (bench/<name>.bench.mjs)');
else console.table(rows);
