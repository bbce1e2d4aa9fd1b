import { defineConfig } from 'vite';

// Preact's JSX through esbuild; no framework plugin needed.
export default defineConfig({
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    // the gateway's CSP allows no inline code, so nothing is inlined as a data: URL either
    assetsInlineLimit: 0,
    // workspace packages are CommonJS (compiled for Node); convert them like node_modules
    commonjsOptions: { include: [/node_modules/, /packages\/journey\/dist/] },
  },
  server: {
    // `vite` during development: the API and WebSocket come from a running gateway
    proxy: {
      '/api': 'http://127.0.0.1:8080',
      '/ws': { target: 'ws://127.0.0.1:8080', ws: true },
    },
  },
});
