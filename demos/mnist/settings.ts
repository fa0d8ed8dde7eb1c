/**
 * The MNIST page's settings: read from the form, checked field by field (an error names the field and is shown next
 * to it), kept in the URL (so a run can be shared by its address), and turned into the library's inputs: a model
 * spec (text form), a RunnerConfig and the fit options. Presentation and wiring only: parsing and validation of
 * models, optimizers and schedules are the library's (parseModelSpec, the runner's config check, scheduleFromSpec).
 */
import { ACTIVATIONS, OPTIMIZER_NAMES, PRESETS, getRule, parseModelSpec, scheduleFromSpec, type ModelSpec, type Preset } from '../../src/index.js';
import { $ } from '../shared/dom.js';

/** Architectures offered. `spec` builds the layer list; 'mlp' comes from the widgets, 'custom' from the text field. */
export interface Arch {
  id: string;
  label: string;
  /** A built-in model of the library (PRESETS: the CNN) with its recipe; absent for 'mlp' and 'custom'. */
  preset?: Preset;
}

/** The MLP widgets, each built-in model of the library but the MLP (which the widgets make), and a free layer list. */
export const ARCHES: Arch[] = [
  { id: 'mlp', label: 'MLP: layer sizes below' },
  ...Object.values(PRESETS).filter((p) => p.name !== 'mlp').map((p) => ({ id: p.name, label: `${p.name.toUpperCase()} (built-in model)`, preset: p })),
  { id: 'custom', label: 'layer list (text)' },
];

/** A built-in model's recipe as settings (chosen with the model; each can be changed after). */
export function presetSettings(p: Preset): Partial<Settings> {
  return { opt: p.optimizer, lr: p.lr, wd: p.weightDecay ?? 0, batch: p.batch, epochs: p.epochs, steps: null, sched: 'cosine' };
}

export const SCHEDULES: { id: string; label: string }[] = [
  { id: 'constant', label: 'constant' },
  { id: 'cosine', label: 'cosine to 0' },
  { id: 'warmup-cosine', label: 'warm-up 5%, then cosine' },
  { id: 'step', label: 'halve every epoch' },
  { id: 'exp', label: 'exponential to 1%' },
  { id: 'onecycle', label: 'one-cycle' },
  { id: 'plateau', label: 'halve on plateau (validation loss)' },
];

/** Everything the form holds, as it goes into the URL. */
export interface Settings {
  arch: string;
  hidden: string;
  act: string;
  bn: boolean;
  dropout: number;
  model: string;
  opt: string;
  lr: number;
  momentum: number;
  sched: string;
  wd: number;
  clip: 'none' | 'norm' | 'value';
  clipv: number;
  batch: number;
  epochs: number;
  steps: number | null;
  subset: number | null;
  evalstop: boolean;
}

export const DEFAULTS: Settings = {
  arch: 'mlp', hidden: '256, 256', act: 'relu', bn: false, dropout: 0, model: '784-dense(256)-relu-dense(10)',
  opt: 'Adam', lr: 0.001, momentum: 0.9, sched: 'cosine', wd: 0, clip: 'none', clipv: 1,
  batch: 128, epochs: 3, steps: null, subset: null, evalstop: true,
};

/** The quick preset: a small MLP for 300 steps (about 30 s on a software adapter, a second or two on a GPU). */
export const QUICK: Partial<Settings> = {
  arch: 'mlp', hidden: '128', act: 'relu', bn: false, dropout: 0, opt: 'Adam', lr: 0.002, sched: 'cosine', wd: 0, clip: 'none',
  batch: 128, steps: 300, subset: null,
};

/** A setting that cannot be used: which field, and why. */
export class FieldError extends Error {
  constructor(readonly field: keyof Settings | 'model', message: string) {
    super(message);
  }
}

/** The optimizers that take a momentum argument. */
export function hasMomentum(opt: string): boolean {
  return getRule(opt).hyperparams.some((h) => h.name === 'momentum');
}

export function fillChoices(): void {
  const fill = (id: string, items: { id: string; label: string }[]) => {
    const sel = $<HTMLSelectElement>(id);
    sel.innerHTML = '';
    for (const it of items) sel.append(new Option(it.label, it.id));
  };
  fill('arch', ARCHES);
  fill('act', Object.keys(ACTIVATIONS).filter((a) => a !== 'identity').map((a) => ({ id: a, label: a })));
  fill('opt', OPTIMIZER_NAMES.map((o) => ({ id: o, label: o })));
  fill('sched', SCHEDULES);
}

/** Puts settings into the form. */
export function writeForm(s: Settings): void {
  for (const [k, v] of Object.entries(s)) {
    const el = document.getElementById(k) as HTMLInputElement | HTMLSelectElement | null;
    if (!el) continue;
    if (el instanceof HTMLInputElement && el.type === 'checkbox') el.checked = !!v;
    else el.value = v === null ? '' : String(v);
  }
  showFields(s);
}

/** Shows the fields that apply (layer widgets or the text field; momentum; the clip value). */
export function showFields(s: Pick<Settings, 'arch' | 'opt' | 'clip'>): void {
  const arch = ARCHES.find((a) => a.id === s.arch);
  $('mlp-fields').hidden = s.arch !== 'mlp';
  $('model-field').hidden = s.arch !== 'custom';
  $('momentum-field').hidden = !(OPTIMIZER_NAMES as readonly string[]).includes(s.opt) || !hasMomentum(s.opt);
  $('clipv-field').hidden = s.clip === 'none';
  if (arch?.preset) $<HTMLInputElement>('model').value = arch.preset.model;
}

const num = (id: string): number => Number(($<HTMLInputElement>(id).value || '').trim());
const optionalInt = (id: string, field: keyof Settings, what: string): number | null => {
  const text = $<HTMLInputElement>(id).value.trim();
  if (text === '') return null;
  const v = Number(text);
  if (!Number.isInteger(v) || v < 1) throw new FieldError(field, `${what} ${text}: expected a whole number ≥ 1 (or empty)`);
  return v;
};

/** Reads and checks the form; throws a FieldError naming the first bad field. */
export function readForm(): Settings {
  const s: Settings = {
    arch: $<HTMLSelectElement>('arch').value,
    hidden: $<HTMLInputElement>('hidden').value.trim(),
    act: $<HTMLSelectElement>('act').value,
    bn: $<HTMLInputElement>('bn').checked,
    dropout: num('dropout'),
    model: $<HTMLInputElement>('model').value.trim(),
    opt: $<HTMLSelectElement>('opt').value,
    lr: num('lr'),
    momentum: num('momentum'),
    sched: $<HTMLSelectElement>('sched').value,
    wd: num('wd'),
    clip: $<HTMLSelectElement>('clip').value as Settings['clip'],
    clipv: num('clipv'),
    batch: num('batch'),
    epochs: num('epochs'),
    steps: optionalInt('steps', 'steps', 'steps'),
    subset: optionalInt('subset', 'subset', 'training digits'),
    evalstop: $<HTMLInputElement>('evalstop').checked,
  };
  if (!(s.lr > 0) || !Number.isFinite(s.lr)) throw new FieldError('lr', `learning rate ${$<HTMLInputElement>('lr').value}: expected a number > 0`);
  if (!(s.momentum >= 0 && s.momentum < 1)) throw new FieldError('momentum', `momentum ${s.momentum}: expected a number in [0, 1)`);
  if (!(s.wd >= 0) || !Number.isFinite(s.wd)) throw new FieldError('wd', `weight decay ${$<HTMLInputElement>('wd').value}: expected a number ≥ 0`);
  if (s.clip !== 'none' && !(s.clipv > 0)) throw new FieldError('clipv', `clip at ${$<HTMLInputElement>('clipv').value}: expected a number > 0`);
  if (!(s.dropout >= 0 && s.dropout < 1)) throw new FieldError('dropout', `dropout ${s.dropout}: expected a rate in [0, 1)`);
  if (!Number.isInteger(s.batch) || s.batch < 1) throw new FieldError('batch', `batch size ${$<HTMLInputElement>('batch').value}: expected a whole number ≥ 1`);
  if (!Number.isInteger(s.epochs) || s.epochs < 1) throw new FieldError('epochs', `epochs ${$<HTMLInputElement>('epochs').value}: expected a whole number ≥ 1`);
  if (s.subset !== null && s.subset > 55000) throw new FieldError('subset', `training digits ${s.subset}: MNIST has 55,000 after the validation split`);
  return s;
}

/** The model as text: the MLP shorthand from the widgets, a preset's layer list, or the text field. */
export function modelText(s: Settings): string {
  const arch = ARCHES.find((a) => a.id === s.arch);
  if (!arch) throw new FieldError('arch', `unknown architecture '${s.arch}' (known: ${ARCHES.map((a) => a.id).join(', ')})`);
  if (arch.preset) return arch.preset.model;
  if (s.arch === 'custom') return s.model;
  const sizes = s.hidden === '' ? [] : s.hidden.split(/[\s,]+/).filter(Boolean).map(Number);
  if (!sizes.every((n) => Number.isInteger(n) && n >= 1)) {
    throw new FieldError('hidden', `hidden layer sizes '${s.hidden}': expected whole numbers ≥ 1 separated by commas, e.g. 256, 256`);
  }
  const tags = [s.act, ...(s.bn ? ['bn'] : []), ...(s.dropout > 0 ? [`dropout=${s.dropout}`] : [])];
  return `${[784, ...sizes, 10].join('-')}:${tags.join(',')}`;
}

/** The model spec; a FieldError on 'model' (or 'hidden') carries the library's message. */
export function buildModel(s: Settings): ModelSpec {
  const text = modelText(s);
  try {
    // A layer list may leave out MNIST's input: 784 values, or 1×28×28 before a convolution.
    const m = parseModelSpec(text, { inputs: 784, inputViews: [[1, 28, 28]] });
    if (m.inputs !== 784) throw new Error(`the model takes ${m.inputs} inputs; an MNIST digit has 784 (28×28)`);
    return m;
  } catch (e) {
    throw new FieldError(s.arch === 'mlp' ? 'hidden' : 'model', (e as Error).message);
  }
}

/** The optimizer's keyword arguments (torch names). */
export function optimizerHyperparams(s: Settings): Record<string, number> {
  const h: Record<string, number> = { lr: s.lr };
  if (s.wd > 0) h.weight_decay = s.wd;
  if (hasMomentum(s.opt) && s.momentum > 0) h.momentum = s.momentum;
  return h;
}

/** The schedule as a spec string for a run of `steps` steps with `perEpoch` steps an epoch (checked by the library). */
export function scheduleSpec(s: Settings, steps: number, perEpoch: number): string {
  const warm = Math.max(1, Math.round(steps * 0.05));
  const spec = {
    constant: 'constant',
    cosine: `cosine:T=${steps}`,
    'warmup-cosine': `warmup:${warm}+cosine:T=${Math.max(1, steps - warm)}`,
    step: `step:size=${perEpoch},gamma=0.5`,
    exp: `exp:gamma=${(0.01 ** (1 / Math.max(1, steps))).toPrecision(8)}`,
    onecycle: `onecycle:max_lr=${s.lr},total=${steps}`,
    plateau: 'plateau:factor=0.5,patience=1',
  }[s.sched];
  if (!spec) throw new FieldError('sched', `unknown schedule '${s.sched}'`);
  try {
    scheduleFromSpec(spec, { lr: s.lr });
  } catch (e) {
    throw new FieldError('sched', (e as Error).message);
  }
  return spec;
}

/** Settings from the URL over the defaults (unknown or malformed values are left to readForm to report). */
export function settingsFromUrl(params: URLSearchParams): Settings {
  const s: Settings = { ...DEFAULTS };
  // Older links: ?optimizer= and ?batch=.
  if (params.has('optimizer') && !params.has('opt')) params.set('opt', params.get('optimizer')!);
  for (const key of Object.keys(DEFAULTS) as (keyof Settings)[]) {
    const v = params.get(key);
    if (v === null) continue;
    const d = DEFAULTS[key];
    (s as unknown as Record<string, unknown>)[key] =
      typeof d === 'boolean' ? v === '1' || v === 'true' : typeof d === 'number' || d === null ? (v === '' ? null : Number(v)) : v;
  }
  if (params.has('model') && !params.has('arch')) s.arch = 'custom';
  return s;
}

/** Writes the settings that differ from the defaults into the address bar (keeping other parameters). */
export function settingsToUrl(s: Settings): void {
  const params = new URLSearchParams(location.search);
  for (const key of Object.keys(DEFAULTS) as (keyof Settings)[]) {
    const v = s[key];
    if (key === 'model' && s.arch !== 'custom') params.delete(key);
    else if (v === DEFAULTS[key]) params.delete(key);
    else params.set(key, typeof v === 'boolean' ? (v ? '1' : '0') : v === null ? '' : String(v));
  }
  params.delete('optimizer');
  const q = params.toString();
  history.replaceState(null, '', q ? `?${q}` : location.pathname);
}
