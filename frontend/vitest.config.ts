import { defineConfig } from "vitest/config";

// The library's unit tests (the status page demo has its own config in demo/).
export default defineConfig({
  test: {
    environment: "jsdom",
    include: ["test/**/*.test.{ts,tsx}"],
    restoreMocks: true,
    unstubGlobals: true,
  },
});
