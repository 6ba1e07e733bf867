import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkBaseReference } from "../../../scripts/image/base-image.js";
import { archivePath, contentKey } from "../../../scripts/image/cache.js";
import { contextFiles, contextHash } from "../../../scripts/image/context.js";
import { baseImagesOf, dynamoImageReference, packageVersion } from "../../../scripts/image/dynamo-image.js";
import { dockerArchiveManifest, fullReference, imageConfig, imageIndex, tagOf, type Descriptor } from "../../../scripts/image/oci-layout.js";

describe("image builder", () => {
  it("names images the way Docker normalizes them", () => {
    assert.equal(fullReference("node:24-bookworm-slim"), "docker.io/library/node:24-bookworm-slim");
    assert.equal(fullReference("ringkv/dynamo:0.1.0"), "docker.io/ringkv/dynamo:0.1.0");
    assert.equal(fullReference("registry.k8s.io/pause:3.10"), "registry.k8s.io/pause:3.10");
    assert.equal(fullReference("localhost/x:1"), "localhost/x:1");
    assert.equal(fullReference("registry.local:5000/dynamo:1"), "registry.local:5000/dynamo:1");
    assert.equal(tagOf("registry.local:5000/dynamo:1"), "1");
    assert.throws(() => tagOf("registry.local:5000/dynamo"), /no tag/);
  });

  it("writes an index and a Docker manifest that name the image for every loader", () => {
    const manifest: Descriptor = { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: "sha256:m", size: 10 };
    const config: Descriptor = { mediaType: "application/vnd.oci.image.config.v1+json", digest: "sha256:c", size: 5 };
    const layers: Descriptor[] = [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: "sha256:l1", size: 7 }];
    assert.deepEqual(imageIndex(manifest, "ringkv/dynamo:0.1.0"), {
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: [{ ...manifest, annotations: { "io.containerd.image.name": "docker.io/ringkv/dynamo:0.1.0", "org.opencontainers.image.ref.name": "0.1.0" } }],
    });
    assert.deepEqual(dockerArchiveManifest(config, layers, "ringkv/dynamo:0.1.0"), [{ Config: "blobs/sha256/c", RepoTags: ["ringkv/dynamo:0.1.0"], Layers: ["blobs/sha256/l1"] }]);
    assert.deepEqual(dockerArchiveManifest(config, layers, "node:24")[0]?.RepoTags, ["node:24"]);
    const image = imageConfig({ Entrypoint: ["/pause"] }, [{ path: "x", diffId: "sha256:d", size: 1 }]) as { rootfs: unknown; os: string };
    assert.deepEqual(image.rootfs, { type: "layers", diff_ids: ["sha256:d"] });
    assert.equal(image.os, "linux");
  });

  it("keys an archive by all of its inputs, and nothing else", () => {
    assert.equal(contentKey("a", { b: 1 }), contentKey("a", { b: 1 }));
    assert.notEqual(contentKey("a", { b: 1 }), contentKey("a", { b: 2 }));
    assert.notEqual(contentKey("ab", "c"), contentKey("a", "bc"), "parts are delimited");
    assert.match(archivePath("dynamo", contentKey("x")), /\/images\/dynamo-[0-9a-f]{20}\.oci\.tar$/);
  });

  it("hashes the build context as .dockerignore cuts it: ignored files never change the key", () => {
    const root = mkdtempSync(join(tmpdir(), "dynamo-context-"));
    try {
      mkdirSync(join(root, "src"));
      mkdirSync(join(root, "node_modules/x"), { recursive: true });
      writeFileSync(join(root, "src/a.ts"), "a");
      writeFileSync(join(root, "package.json"), "{}");
      writeFileSync(join(root, "node_modules/x/index.js"), "ignored");
      writeFileSync(join(root, "notes.md"), "ignored");
      symlinkSync("src/a.ts", join(root, "link"));
      const ignore = "node_modules\n*.md\n";
      assert.deepEqual(contextFiles(root, ignore), ["link", "package.json", "src/a.ts"]);
      const before = contextHash(root, ignore);
      writeFileSync(join(root, "notes.md"), "changed");
      writeFileSync(join(root, "node_modules/x/index.js"), "changed");
      assert.equal(contextHash(root, ignore), before, "ignored files do not count");
      writeFileSync(join(root, "src/a.ts"), "b");
      assert.notEqual(contextHash(root, ignore), before, "a source change does");
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it("builds the project's Dockerfile from the one base image the local recipe makes, under the package version", () => {
    const dockerfile = "ARG NODE_VERSION=24\nFROM node:${NODE_VERSION}-bookworm-slim AS build\nRUN x\nFROM node:${NODE_VERSION}-bookworm-slim\nCOPY --from=build /a /a\n";
    assert.deepEqual(baseImagesOf(dockerfile), ["node:24-bookworm-slim"]);
    assert.deepEqual(baseImagesOf("FROM a:1 AS one\nFROM one\nFROM b:2\n"), ["a:1", "b:2"], "a stage used as a base is no image");
    checkBaseReference("node:24-bookworm-slim");
    assert.throws(() => checkBaseReference("node:22-bookworm-slim"), /base-image\.ts makes node:24-bookworm-slim/);
    assert.equal(dynamoImageReference(), `ringkv/dynamo:${packageVersion()}`);
  });
});
