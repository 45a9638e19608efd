/**
 * Build of the admin UI. Run from the repository root: `npm run build:ui` (typechecks with
 * admin-ui/tsconfig.json, then `npx vite build --config admin-ui/vite.config.ts`).
 * The output (admin-ui/dist) is served by src/admin/static.ts at /admin, hence `base`.
 */
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  base: '/admin/',
  plugins: [react()],
  build: {
    outDir: fileURLToPath(new URL('./dist', import.meta.url)),
    emptyOutDir: true,
    // Hashed file names under assets/ get immutable caching from the server.
    assetsDir: 'assets',
    sourcemap: false,
  },
  server: {
    // `npx vite --config admin-ui/vite.config.ts` during UI work: API calls go to a local gateway.
    proxy: { '/api/admin': 'http://127.0.0.1:8080' },
  },
});
