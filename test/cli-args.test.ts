import { describe, expect, it } from 'vitest';
import { ArgError, parseArgs, usage, type FlagSpecs } from '../src/cli/args.js';

const SPECS = {
  model: { type: 'string', help: 'model spec', default: '784-10' },
  lr: { type: 'number', help: 'learning rate' },
  epochs: { type: 'int', help: 'epochs' },
  device: { type: 'string', help: 'device', choices: ['gpu', 'cpu'], default: 'gpu' },
  json: { type: 'boolean', help: 'JSON output' },
} as const satisfies FlagSpecs;

const parse = (argv: string[]) => parseArgs(argv, SPECS, 'wgtrain train');

describe('parseArgs', () => {
  it('parses both value forms, booleans, choices (case-insensitive) and fills defaults', () => {
    const r = parse(['--lr', '3e-4', '--epochs=2', '--json', '--device', 'CPU']);
    expect(r.values).toEqual({ model: '784-10', lr: 3e-4, epochs: 2, device: 'cpu', json: true });
    expect([...r.given].sort()).toEqual(['device', 'epochs', 'json', 'lr']);
    expect(r.help).toBe(false);
    expect(parse(['--json=false']).values.json).toBe(false);
    expect(parse(['--lr', '-1']).values.lr).toBe(-1);
    expect(parse(['-h']).help).toBe(true);
  });

  it('unknown flags name the flag, suggest a close one and list the valid ones', () => {
    expect(() => parse(['--epoch', '3'])).toThrow(ArgError);
    expect(() => parse(['--epoch', '3'])).toThrow(
      'wgtrain train: unknown flag --epoch (did you mean --epochs?); valid flags: --model, --lr, --epochs, --device, --json',
    );
    expect(() => parse(['--frobnicate'])).toThrow(/unknown flag --frobnicate; valid flags: --model/);
  });

  it('rejects missing and malformed values, repeated flags, positionals and bad choices', () => {
    expect(() => parse(['--lr'])).toThrow('wgtrain train: --lr needs a value (NUMBER): learning rate');
    expect(() => parse(['--lr', '--json'])).toThrow(/--lr needs a value/);
    expect(() => parse(['--lr', 'fast'])).toThrow('wgtrain train: --lr must be a number, got "fast"');
    expect(() => parse(['--epochs', '2.5'])).toThrow(/--epochs must be an integer, got "2.5"/);
    expect(() => parse(['--epochs', '1', '--epochs', '2'])).toThrow(/--epochs is given twice/);
    expect(() => parse(['extra'])).toThrow(/unexpected argument "extra"; valid flags/);
    expect(() => parse(['-x'])).toThrow(/unexpected argument "-x" \(flags start with --\)/);
    expect(() => parse(['--device', 'tpu'])).toThrow('wgtrain train: --device must be one of gpu, cpu, got "tpu"');
    expect(() => parse(['--json=maybe'])).toThrow(/--json must be true or false/);
  });

  it('usage lists every flag with its help and default', () => {
    const text = usage(SPECS, 'wgtrain train [flags]');
    expect(text).toContain('usage: wgtrain train [flags]');
    expect(text).toMatch(/--device STRING\s+device \(one of gpu\|cpu; default gpu\)/);
    expect(text).toMatch(/--json\s+JSON output/);
  });
});
