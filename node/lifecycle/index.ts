/** How a node leaves: draining the requests it serves before its ports close, so a planned stop fails no request. */
export { Drain } from "./drain.js";
