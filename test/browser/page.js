// The browser side of test/browser.test.ts (see index.html). Plain JS: the page runs as served, with no build step.
const params = new URLSearchParams(location.search);
const log = document.getElementById('log');
const say = (line, cls) => {
  const span = document.createElement('span');
  if (cls) span.className = cls;
  span.textContent = line + '\n';
  log.append(span);
};

/**
 * ?errors: a GPU error raised before a read is thrown by that read (by Engine.read and by the vector machine's read,
 * which take the errors right after their map: Engine.flush says why no timer is needed), and reported once.
 */
async function errorDelivery(lib, engine) {
  const t0 = performance.now();
  const values = Float32Array.from({ length: 16 }, (_, i) => i);
  const ok = engine.storage('readable', values);
  const tiny = engine.storage('tiny-target', 16);
  // Chromium reports an invalid command buffer by the encoder's label ('bad copy'), Dawn in Node by the buffer's.
  const expectGpuError = async (what, read) => {
    const err = await read().then(() => null, (e) => e);
    if (!(err instanceof lib.GpuError) || !/tiny-target|bad copy/.test(err.message)) {
      throw new Error(`${what}: expected a GpuError naming 'tiny-target' or 'bad copy', got ${err ? `${err.name}: ${err.message}` : 'no error'}`);
    }
  };
  engine.device.queue.writeBuffer(tiny, 0, new Float32Array(64)); // 256 bytes into 16
  await expectGpuError('Engine.read after an invalid writeBuffer', () => engine.read(ok));
  const back = new Float32Array(await engine.read(ok));
  if (back.some((v, i) => v !== values[i])) throw new Error(`the read after the error returned ${back}`);
  engine.submit('bad copy', (enc) => enc.copyBufferToBuffer(ok, 0, tiny, 0, 64));
  await expectGpuError('Engine.read after an invalid command buffer', () => engine.read(ok));
  const m = await lib.GpuMachine.create(engine, { n: 16, valueGrad: () => Promise.reject(new Error('unused')) });
  const slot = m.scalars(1);
  m.dot(slot, m.x, m.x);
  engine.device.queue.writeBuffer(tiny, 0, new Float32Array(64));
  await expectGpuError('GpuMachine.read after an invalid writeBuffer', () => m.read([slot]));
  const [dot] = await m.read([slot]);
  if (dot !== 0) throw new Error(`the machine's read after the error returned ${dot}`);
  m.destroy();
  ok.destroy();
  tiny.destroy();
  return { name: 'GPU errors surface from the next read', ok: true, ms: performance.now() - t0 };
}

async function main() {
  const lib = await import('/dist/browser/index.js');
  const { createEngine, selfTest, SELF_CHECKS } = lib;
  log.textContent = '';
  let engine;
  try {
    engine = await createEngine({ log: (line) => say(line) });
  } catch (e) {
    say(`${e.name}: ${e.message}`, 'fail');
    return { ok: false, stage: 'createEngine', error: { name: e.name, message: e.message }, results: [], checks: SELF_CHECKS.length };
  }
  const adapter = { ...engine.info, describe: engine.describe() };
  if (params.has('errors')) {
    const result = await errorDelivery(lib, engine).catch((e) => ({ name: 'GPU errors surface from the next read', ok: false, ms: 0, error: String(e?.message ?? e) }));
    say(`${result.ok ? 'ok  ' : 'FAIL'} ${result.name}${result.error ? '\n     ' + result.error : ''}`, result.ok ? 'ok' : 'fail');
    engine.destroy();
    return { ok: result.ok, stage: 'errors', adapter, results: [result], checks: 1 };
  }
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
