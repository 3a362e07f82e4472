// An image made without a builder: one layer tarball, a config with a fixed
// creation time, and the `docker save` archive layout that `docker load`
// reads. The image id is the SHA256 of the config, so the same files, time
// and labels give the same id on any machine (docker build stamps the time
// of the build into every image it makes).

/** The image config (OCI / Docker image JSON) for one layer. */
export interface ImageConfig {
  architecture: string;
  os: string;
  created: string;
  config: { Labels: Record<string, string> };
  rootfs: { type: 'layers'; diff_ids: string[] };
  history: { created: string; created_by: string }[];
}

/** The config of a one-layer image: `diffId` is `sha256:<hex>` of the uncompressed layer tarball. */
export function imageConfig(o: { diffId: string; created: Date; labels: Record<string, string>; architecture?: string }): ImageConfig {
  const created = o.created.toISOString();
  // Labels in sorted order, so the config's bytes do not depend on how the caller built the object.
  const labels = Object.fromEntries(Object.entries(o.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return {
    architecture: o.architecture ?? 'amd64',
    os: 'linux',
    created,
    config: { Labels: labels },
    rootfs: { type: 'layers', diff_ids: [o.diffId] },
    history: [{ created, created_by: 'g3-composer: the disk image files under /disk/' }],
  };
}

/** `manifest.json` of a `docker save` archive holding one image. */
export function saveManifest(configFile: string, layerFile: string, repoTags: string[]): string {
  return JSON.stringify([{ Config: configFile, RepoTags: repoTags, Layers: [layerFile] }]);
}
