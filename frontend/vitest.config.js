import { defineConfig } from "vitest/config";

// The library's unit tests (the status page demo has its own config in demo/).
export default defineConfig({
  esbuild: { jsx: "automatic" },
  test: {
    environment: "jsdom",
    include: ["test/**/*.test.{js,jsx}"],
    restoreMocks: true,
    unstubGlobals: true,
  },
});
