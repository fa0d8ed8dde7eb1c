/**
 * JSON that keeps every number (src/json-numbers.ts): NaN and ±Infinity are written as the strings "NaN", "Infinity",
 * "-Infinity" (JSON.stringify would write null) and read back as the same numbers; everything else is plain JSON.
 */
import { describe, expect, it } from 'vitest';
import { decodeNumber, encodeNumber, fromJson, reviveNumbers, toJson } from '../src/json-numbers.js';

describe('json-numbers', () => {
  const value = { loss: Infinity, low: -Infinity, accuracy: NaN, steps: 3, rows: [1.5, NaN, -Infinity], name: 'run', nested: { x: Infinity, none: null } };

  it('writes NaN and ±Infinity as strings, at any depth, and reads them back', () => {
    const text = toJson(value);
    expect(text).toBe('{"loss":"Infinity","low":"-Infinity","accuracy":"NaN","steps":3,"rows":[1.5,"NaN","-Infinity"],"name":"run","nested":{"x":"Infinity","none":null}}');
    expect(fromJson(text)).toEqual(value); // toEqual treats NaN as equal to NaN
    expect(reviveNumbers(JSON.parse(text))).toEqual(value);
    expect(JSON.stringify(value)).toContain('"loss":null'); // what plain JSON would have done
  });

  it('leaves finite numbers, other strings and null as they are', () => {
    expect(encodeNumber(-0.25)).toBe(-0.25);
    expect(encodeNumber(-Infinity)).toBe('-Infinity');
    expect(decodeNumber('Infinity')).toBe(Infinity);
    expect(decodeNumber('infinity')).toBe('infinity');
    expect(decodeNumber('NaN ')).toBe('NaN ');
    expect(decodeNumber(null)).toBeNull();
    expect(toJson(1e308 * 10)).toBe('"Infinity"');
    expect(toJson({ a: 1, b: 'x' }, 2)).toBe(JSON.stringify({ a: 1, b: 'x' }, null, 2));
  });
});
