/**
 * The console's build: `vite build console` (or the JS API with `root: 'console'`). Relative
 * asset URLs (`base: './'`) so the same files work wherever `/ui/` is mounted: the local gateway,
 * CloudFront, or behind an API stage prefix.
 */
import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

export default defineConfig({
  base: './',
  plugins: [preact()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // No inline polyfill script: the CSP allows scripts from 'self' only.
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
  },
});
