#!/usr/bin/env node
/**
 * Prints the functions with the most self time in a V8 CPU profile (`node --cpu-prof`), to see where a training
 * step's host time goes (encoding, Dawn's bindings, GC):
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof bench/step.mjs --configs 784-256-256-10@128 --frameworks wgtrain
 *   node bench/profile-top.mjs /tmp/prof [--top 30]
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const [where = '.', ...rest] = process.argv.slice(2);
const top = Number(rest[rest.indexOf('--top') + 1] ?? 30) || 30;
const file = statSync(where).isDirectory()
  ? join(where, readdirSync(where).filter((f) => f.endsWith('.cpuprofile')).sort().at(-1))
  : where;
const p = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const self = new Map();
p.samples.forEach((id, i) => {
  const f = byId.get(id).callFrame;
  const key = `${f.functionName || '(anonymous)'} ${f.url.split('/').pop()}:${f.lineNumber + 1}`;
  self.set(key, (self.get(key) ?? 0) + (p.timeDeltas[i] ?? 0));
});
const total = [...self.values()].reduce((a, b) => a + b, 0);
console.log(`${file}: ${(total / 1e6).toFixed(2)} s sampled`);
for (const [k, t] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${((100 * t) / total).toFixed(1).padStart(5)}%  ${k}`);
