/** The first page's JavaScript stays within the console's budget; the chart library is not part of it. */
import { describe, expect, it } from 'vitest';
import { allJs, FIRST_PAGE_JS_TARGET_KB, firstPageJs } from '../../bench/console.bench.js';
import { CONSOLE_DIST_DIR } from '../../infra/console-site.js';

describe('the console bundle (built by the global setup)', () => {
  const first = firstPageJs(CONSOLE_DIST_DIR);

  it(`loads at most ${FIRST_PAGE_JS_TARGET_KB} KB of gzipped JavaScript on the first page`, () => {
    expect(first.length).toBeGreaterThan(0);
    expect(first.reduce((s, f) => s + f.gzipBytes, 0)).toBeLessThanOrEqual(FIRST_PAGE_JS_TARGET_KB * 1024);
  });

  it('keeps uPlot out of the first page: it is loaded when there is a report to draw', () => {
    const lazy = allJs(CONSOLE_DIST_DIR).filter((a) => !first.some((f) => f.file === a.file));
    expect(lazy.some((l) => /uPlot/i.test(l.file))).toBe(true);
    expect(first.some((f) => /uPlot/i.test(f.file))).toBe(false);
  });
});
