/**
 * WGSL has no #include. A kernel's source is the concatenation of one or more `.wgsl` files (e.g. a shared function
 * library followed by the kernel family's file); `ComposedSource` remembers where each file starts so that compile
 * errors can be reported as `file:line:column` in the original file.
 */
import type { ModuleInfo } from './layout.js';

export interface WgslFile {
  /** File name as in `shaders/`, e.g. `matmul.wgsl`. */
  file: string;
  text: string;
  /** Its layout; absent for files imported from `.wgsl`, whose layout the loader registered with the text. */
  layout?: ModuleInfo;
}

export class ComposedSource {
  readonly text: string;
  private readonly starts: { file: string; line: number }[] = [];

  constructor(readonly files: readonly WgslFile[]) {
    let line = 1;
    const parts: string[] = [];
    for (const f of files) {
      this.starts.push({ file: f.file, line });
      const text = f.text.endsWith('\n') ? f.text : f.text + '\n';
      parts.push(text);
      line += text.split('\n').length - 1;
    }
    this.text = parts.join('');
  }

  /** Name used in labels and the pipeline cache key, e.g. `random.wgsl+dropout.wgsl`. */
  get name(): string {
    return this.files.map((f) => f.file).join('+');
  }

  /** Maps a 1-based line of the composed text to the file and line it came from. */
  locate(line: number): { file: string; line: number } {
    let at = this.starts[0]!;
    for (const s of this.starts) if (s.line <= line) at = s;
    return { file: at.file, line: line - at.line + 1 };
  }
}
