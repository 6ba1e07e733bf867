/**
 * The Node.js release the image ships (the Dockerfile's `node:<major>-bookworm-slim` base, assembled by
 * scripts/image/base-image.ts), kept here so the benchmarks can run the store's processes on the same release
 * (`--runtime image`, bench/runtime.ts). Bump it with the Dockerfile's NODE_VERSION major.
 */
export const IMAGE_NODE_VERSION = "24.22.3";
