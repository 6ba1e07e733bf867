/** Talking to the API server: a small JSON client with server-side apply. */
export type { ObjectApi } from "./api-client.js";
export { DEFAULT_API_CLIENT, KubeApi, KubeApiError, isConflict, isNotFound, objectPath, pathOf } from "./api-client.js";
