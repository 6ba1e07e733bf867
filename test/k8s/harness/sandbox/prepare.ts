/**
 * What a run needs before its sandbox starts, made on the host because the sandbox has no network to fetch anything:
 * the toolchain's binaries (already built by test/k8s/toolchain/build.sh) and the images, built or taken from the
 * image cache (scripts/image): the project's own from its Dockerfile, and the node's system images.
 */
import { SYSTEM_IMAGES, dynamoImage, systemImageArchive } from "../../../../scripts/image/index.js";
import { toolchainBinDir } from "../toolchain.js";
import type { ImageArchive, SandboxInfo } from "./sandbox-info.js";

export async function prepareRun(): Promise<{ binDir: string; images: SandboxInfo["images"] }> {
  const binDir = toolchainBinDir();
  const dynamo = await dynamoImage();
  const system: ImageArchive[] = [];
  for (const image of Object.values(SYSTEM_IMAGES)) system.push({ reference: image.reference, archive: await systemImageArchive(image, binDir) });
  return { binDir, images: { dynamo, system } };
}
