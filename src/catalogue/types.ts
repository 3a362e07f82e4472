// The target catalogue (docker/targets.yml) as the library sees it.

/** One file of a g3 section, pinned by its SHA256. */
export interface Artifact {
  section: string;
  file: string;
  /** Tried in order. */
  urls: string[];
  sha256: string;
  size?: number;
  /** Where it was declared, for messages. */
  origin: { file: string; line: number };
}

/** A build target: only the keys its commands need. */
export interface Target {
  name: string;
  description?: string;
  artifacts: Artifact[];
  /** Keys later commands read (template, tags, ...), kept as given. */
  extra: Record<string, unknown>;
}

export interface Catalogue {
  file: string;
  targets: Map<string, Target>;
  warnings: string[];
}
