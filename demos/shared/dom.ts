/** What every demo page does to its own HTML: find an element by id, and set the status line (`#status`). */

/** The element with this id (each page's ids are fixed in its index.html). */
export const $ = <T extends HTMLElement = HTMLElement>(id: string): T => document.getElementById(id) as T;

/** Sets the page's status line `#status`: its text, class `status <cls>` (colour), and an optional hint below it. */
export function setStatus(text: string, cls: '' | 'ok' | 'fail' | 'warn' = '', hint?: string): void {
  const line = $('status');
  line.className = `status ${cls}`;
  line.textContent = text;
  if (hint) line.append(Object.assign(document.createElement('span'), { className: 'hint', textContent: hint }));
}
