/**
 * Container images built on this machine, without Docker and without a registry: the project's own image from its
 * Dockerfile, the Dockerfile's base image, and the system images a Kubernetes node needs (see each module). Each is an
 * OCI archive in the image cache, rebuilt only when its inputs change. `npm run image:build` and the Kubernetes test
 * layer both build through here.
 */
export { dynamoImage, dynamoImageReference, packageVersion, DYNAMO_REPOSITORY, REPO_ROOT, type BuiltImage } from "./dynamo-image.js";
export { SYSTEM_IMAGES, systemImageArchive, type SystemImage } from "./system-images.js";
export { imageCacheDir } from "./cache.js";
export { fullReference } from "./oci-layout.js";
