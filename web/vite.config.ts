// The UI builds into the Python package, which serves it at / (one container; see docs/architecture.md).
// In development, `npm run dev` proxies the API to a backend started with `berth up --port 8020`.
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

const backend = "http://127.0.0.1:8020";

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "../src/berth/web",
    emptyOutDir: true,
    chunkSizeWarningLimit: 600,
  },
  server: {
    proxy: {
      "/api": backend,
      "/readyz": backend,
      "/healthz": backend,
    },
  },
});
