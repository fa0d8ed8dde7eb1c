// The browser side of test/browser.test.ts (see index.html). Plain JS: the page runs as served, with no build step.
const params = new URLSearchParams(location.search);
const log = document.getElementById('log');
const say = (line, cls) => {
  const span = document.createElement('span');
  if (cls) span.className = cls;
  span.textContent = line + '\n';
  log.append(span);
};

async function main() {
  const { createEngine, selfTest, SELF_CHECKS } = await import('/dist/browser/index.js');
  log.textContent = '';
  let engine;
  try {
    engine = await createEngine({ log: (line) => say(line) });
  } catch (e) {
    say(`${e.name}: ${e.message}`, 'fail');
    return { ok: false, stage: 'createEngine', error: { name: e.name, message: e.message }, results: [], checks: SELF_CHECKS.length };
  }
  const adapter = { ...engine.info, describe: engine.describe() };
  const seed = params.has('seed') ? Number(params.get('seed')) : Date.now() % 2 ** 31;
  const filter = params.has('filter') ? new RegExp(params.get('filter')) : undefined;
  say(`adapter: ${adapter.describe}\nseed: ${seed}\nchecks: ${SELF_CHECKS.length}`);
  const results = await selfTest(engine, { seed, filter });
  for (const r of results) say(`${r.ok ? 'ok  ' : 'FAIL'} ${r.name} (${r.ms.toFixed(0)} ms)${r.error ? '\n     ' + r.error : ''}`, r.ok ? 'ok' : 'fail');
  engine.destroy();
  const ok = results.length > 0 && results.every((r) => r.ok);
  say(ok ? `all ${results.length} checks passed` : 'FAILED', ok ? 'ok' : 'fail');
  return { ok, stage: 'selfTest', adapter, seed, results, checks: SELF_CHECKS.length };
}

window.wgtrainResult = main().catch((e) => {
  say(`${e?.name}: ${e?.message}\n${e?.stack ?? ''}`, 'fail');
  return { ok: false, stage: 'page', error: { name: e?.name, message: String(e?.message ?? e) }, results: [] };
});
