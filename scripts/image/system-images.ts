/**
 * The images a Kubernetes node needs besides the workload's, each one static binary on an empty root filesystem:
 * the pod sandbox ("pause") container, which is Debian's catatonit in its pause mode, and the cluster add-ons CoreDNS
 * and metrics-server, built by test/k8s/toolchain/build.sh from the Go module proxy. They carry the names real
 * clusters use, so the runtime and the manifests find them without any registry. Each archive is keyed by its
 * binary's content.
 */
import { copyFileSync, chmodSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { writeArchive } from "./base-image.js";
import { cachedArchive, contentKey } from "./cache.js";
import { sha256File, type ImageRuntimeConfig } from "./oci-layout.js";
import { run } from "./run.js";

export interface SystemImage {
  name: string;
  reference: string;
  /** Path of the binary on this machine. */
  binary: (binDir: string) => string;
  /** Where the binary goes in the image. */
  path: string;
  runtime: ImageRuntimeConfig;
}

const NOBODY = "65534:65534";

export const SYSTEM_IMAGES = {
  pause: {
    name: "pause",
    // The sandbox image containerd's CRI plugin is configured with (test/k8s/harness/node).
    reference: "registry.k8s.io/pause:3.10",
    binary: () => "/usr/bin/catatonit",
    path: "/pause",
    runtime: { Entrypoint: ["/pause", "-P"], User: NOBODY },
  },
  coredns: {
    name: "coredns",
    reference: "registry.k8s.io/coredns/coredns:v1.14.7",
    binary: (binDir: string) => join(binDir, "coredns"),
    path: "/coredns",
    runtime: { Entrypoint: ["/coredns"], User: NOBODY },
  },
  metricsServer: {
    name: "metrics-server",
    reference: "registry.k8s.io/metrics-server/metrics-server:v0.9.0",
    binary: (binDir: string) => join(binDir, "metrics-server"),
    path: "/metrics-server",
    runtime: { Entrypoint: ["/metrics-server"], User: NOBODY },
  },
} satisfies Record<string, SystemImage>;

/** The archive of one system image, built from the binary in `binDir` when not cached. */
export async function systemImageArchive(image: SystemImage, binDir: string): Promise<string> {
  const binary = image.binary(binDir);
  const key = contentKey(image.reference, image.path, image.runtime, await sha256File(binary));
  return cachedArchive(image.name, key, async (output, scratch) => {
    const rootfs = join(scratch, "rootfs");
    mkdirSync(rootfs);
    const target = join(rootfs, image.path);
    copyFileSync(binary, target);
    chmodSync(target, 0o755);
    // An empty /tmp, world-writable with the sticky bit, for programs that write scratch files (metrics-server's
    // self-signed serving certificate when no directory is mounted).
    mkdirSync(join(rootfs, "tmp"));
    chmodSync(join(rootfs, "tmp"), 0o1777);
    const layer = join(scratch, "layer.tar");
    await run("tar", ["--numeric-owner", "--owner=0", "--group=0", "--sort=name", "--mtime=@0", "-C", rootfs, "-cf", layer, "."]);
    await writeArchive(output, scratch, image.reference, image.runtime, [layer]);
  });
}
