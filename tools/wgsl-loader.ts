/**
 * The `.wgsl` loader shared by build.mjs (an esbuild plugin) and vitest.config.ts (a transform), so bundles and tests
 * see the same module for every shader, with no per-shader step: a `.wgsl` file becomes
 *
 *   import { registerWgsl } from '<root>/src/gpu/layout.ts';
 *   export default registerWgsl("<text without comments>", <layout reflected now, packed: gpu/layout.ts>);
 *
 * with the call marked pure, so a bundler may drop a shader no kernel uses (then nothing needs its layout).
 * Comments are removed without moving any code: a comment that ends its line is cut, one followed by code on the same
 * line is replaced by spaces, and every newline stays. Line and column numbers of the compiler's messages are those
 * of the original file, which is what the engine reports (file:line:column).
 */
import { packLayout } from '../src/gpu/layout.js';
import type { WgslFile } from '../src/gpu/source.js';
import { reflectWgsl } from './wgsl-reflect.js';

/** `text` without comments (WGSL: `//` to the end of the line; nestable block comments), lines and columns kept. */
export function stripWgslComments(text: string): string {
  const out: string[] = [];
  let i = 0;
  let pending = ''; // the spaces standing for a comment, written only if code follows on its line
  while (i < text.length) {
    const c = text[i]!;
    if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n' && text[i] !== '\r') i++;
      pending = '';
    } else if (c === '/' && text[i + 1] === '*') {
      let depth = 0;
      do {
        if (text[i] === '/' && text[i + 1] === '*') {
          depth++;
          pending += '  ';
          i += 2;
        } else if (text[i] === '*' && text[i + 1] === '/') {
          depth--;
          pending += '  ';
          i += 2;
        } else {
          if (text[i] === '\n') {
            out.push('\n');
            pending = '';
          } else pending += text[i] === '\t' ? '\t' : ' ';
          i++;
        }
      } while (depth > 0 && i < text.length);
    } else if (c === '\n') {
      out.push('\n');
      pending = '';
      i++;
    } else {
      if (c !== ' ' && c !== '\t' && c !== '\r') {
        out.push(pending);
        pending = '';
        out.push(c);
      } else pending += c;
      i++;
    }
  }
  return out.join('');
}

/** The JavaScript module a `.wgsl` file becomes; `registerFrom` is the import path of src/gpu/layout.ts. */
export function wgslModule(text: string, file: string, registerFrom: string): string {
  const code = stripWgslComments(text);
  let layout;
  try {
    layout = reflectWgsl(code);
  } catch (e) {
    throw new Error(`${file}: WGSL reflection failed: ${(e as Error).message}`);
  }
  return `import { registerWgsl } from ${JSON.stringify(registerFrom)};\nexport default /* @__PURE__ */ registerWgsl(${JSON.stringify(code)}, ${JSON.stringify(packLayout(layout))});\n`;
}

/** A WGSL file made in code (tests), as the loader would have made it: comments stripped, layout attached. */
export function wgslFile(file: string, text: string): WgslFile {
  const code = stripWgslComments(text);
  return { file, text: code, layout: reflectWgsl(code) };
}
