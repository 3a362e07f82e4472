// The target catalogue (docker/targets.yml) as the library sees it: every key
// a target may hold, typed and checked when the catalogue is loaded.

/** Where something was declared in the catalogue, for messages. */
export interface Origin {
  /** The catalogue as messages show it. */
  file: string;
  line: number;
}

/** A target key's value and where it was declared. */
export interface Declared<T> {
  value: T;
  origin: Origin;
}

/** One file of a g3 section, pinned by its SHA256. */
export interface Artifact {
  section: string;
  file: string;
  /** Tried in order. */
  urls: string[];
  sha256: string;
  size?: number;
  /** Where it was declared, for messages. */
  origin: Origin;
}

/** A build target: only the keys its commands need. */
export interface Target {
  name: string;
  description?: string;
  /** `artifacts:` hand-pinned files (`cache`). */
  artifacts: Artifact[];
  /** `template:` the image template, a path relative to the catalogue, as written (`lock`, `cache`, `build`). */
  template?: Declared<string>;
  /** `tools:` the composer image's Debian packages, as listed (`lock`, `cache`, `build`). */
  tools?: Declared<string[]>;
  /** `image:` the repository the image is named and pushed as (`build`, `push`). */
  image?: Declared<string>;
  /** `registry:` the registry's `host[:port]` when `image` names none (`push`). */
  registry?: Declared<string>;
  /** `tags:` the image's tags; one tag is a list of one (`build`, `push`). */
  tags?: Declared<string[]>;
}

export interface Catalogue {
  file: string;
  targets: Map<string, Target>;
  warnings: string[];
}
