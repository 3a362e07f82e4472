// Every setting in one place: its environment names, flag, default and
// description. `.g3-cache.example` documents the environment names,
// `g3-composer.example.yml` the same keys as a config file.

export type Kind = 'string' | 'path' | 'int' | 'bool';

export interface SettingDef {
  key: string;
  kind: Kind;
  /** Environment variables, first wins. */
  env: string[];
  /** Long flag without the dashes, when there is one. */
  flag?: string;
  /**
   * How `--help` lists the flag: a short text, the value's name (FILE, DIR, N)
   * and the default as help shows it; an int's range and the environment
   * variable are added from this definition.
   */
  flagHelp?: { text: string; value?: string; shownDefault?: string };
  description: string;
  min?: number;
  max?: number;
  /** The only values a string setting takes. */
  choices?: readonly string[];
  /** The shape a string setting must have, and how messages describe it. */
  pattern?: RegExp;
  expected?: string;
}

export const SETTINGS = [
  {
    key: 'targets',
    kind: 'path',
    env: ['G3_TARGETS'],
    flag: 'targets',
    flagHelp: { text: 'target catalogue', value: 'FILE', shownDefault: 'docker/targets.yml' },
    description: 'target catalogue (default: docker/targets.yml in the project)',
  },
  {
    key: 'g3_cache',
    kind: 'path',
    env: ['G3_LOCAL_CACHE'],
    flag: 'g3-cache',
    flagHelp: { text: 'local g3-cache', value: 'DIR', shownDefault: '.g3-cache beside the catalogue' },
    description: 'local g3-cache (default: .g3-cache beside the target catalogue, i.e. docker/.g3-cache)',
  },
  {
    key: 'shared_cache',
    kind: 'path',
    env: ['SHARED_G3_CACHE_PATH', 'G3_SHARED_CACHE'],
    flag: 'shared-cache',
    flagHelp: { text: 'shared g3-cache', value: 'DIR' },
    description: 'shared g3-cache used by many builders (optional)',
  },
  {
    key: 'cache_dir',
    kind: 'path',
    env: ['G3_CACHE_DIR'],
    flag: 'cache-dir',
    flagHelp: { text: 'package cache root', value: 'DIR', shownDefault: './cache' },
    description: 'package cache root (default: ./cache)',
  },
  {
    key: 'work_dir',
    kind: 'path',
    env: ['G3_WORK_DIR'],
    flag: 'work-dir',
    flagHelp: { text: 'workspace root', value: 'DIR', shownDefault: './workspace' },
    description: 'workspace root (default: ./workspace)',
  },
  { key: 'temp_dir', kind: 'path', env: ['G3_TEMP_DIR'], description: 'scratch files of the toolkit itself (default: the OS temp dir, $TMPDIR or /tmp)' },
  {
    key: 'workers',
    kind: 'int',
    env: ['G3_WORKERS'],
    flag: 'workers',
    flagHelp: { text: 'parallel transfers', value: 'N', shownDefault: '12' },
    description: 'parallel transfers (default: 12)',
    min: 1,
    max: 64,
  },
  {
    key: 'offline',
    kind: 'bool',
    env: ['G3_OFFLINE'],
    flag: 'offline',
    flagHelp: { text: 'never use the network' },
    description: 'never use the network; missing items fail (default: off)',
  },
  { key: 'mirror', kind: 'string', env: ['G3_MIRROR'], description: 'Debian mirror for ${mirror} in URLs (default: from the host apt sources)' },
  {
    key: 'security_mirror',
    kind: 'string',
    env: ['G3_SECURITY_MIRROR'],
    description: 'Debian security mirror for ${security_mirror} (default: from the host apt sources)',
  },
  {
    key: 'http_timeout',
    kind: 'int',
    env: ['G3_HTTP_TIMEOUT'],
    description: 'seconds a download may stall before it is retried (default: 30)',
    min: 1,
    max: 3600,
  },
  {
    key: 'http_min_speed',
    kind: 'int',
    env: ['G3_HTTP_MIN_SPEED'],
    description:
      'bytes per second a download must average over each http_timeout window; a slower one counts as stalled and is retried; 0: only a complete stop counts (default: 1024)',
    min: 0,
    max: 1_000_000_000,
  },
  {
    key: 'max_download_mib',
    kind: 'int',
    env: ['G3_MAX_DOWNLOAD_MIB'],
    description: 'largest single download in MiB, whether or not its size is known in advance (default: 4096)',
    min: 1,
    max: 1_048_576,
  },
  {
    key: 'max_index_mib',
    kind: 'int',
    env: ['G3_MAX_INDEX_MIB'],
    description: 'largest Packages index in MiB once unpacked, whatever size the signed Release states (default: 256)',
    min: 1,
    max: 4096,
  },
  { key: 'retries', kind: 'int', env: ['G3_RETRIES'], description: 'retries per URL after the first attempt (default: 4)', min: 0, max: 20 },
  {
    key: 'retry_backoff_ms',
    kind: 'int',
    env: ['G3_RETRY_BACKOFF_MS'],
    description: 'first retry delay in ms, doubled each retry, with jitter (default: 500)',
    min: 0,
    max: 60000,
  },
  {
    key: 'ignore_valid_until',
    kind: 'bool',
    env: ['G3_IGNORE_VALID_UNTIL'],
    flag: 'ignore-valid-until',
    flagHelp: { text: 'accept repository metadata past its Valid-Until date' },
    description: 'accept repository metadata past its Valid-Until date, with a warning (default: off)',
  },
  {
    key: 'docker_client',
    kind: 'string',
    env: ['G3_DOCKER_CLIENT'],
    flag: 'docker-client',
    description: 'Docker client binary that builds with BuildKit (default: detected: docker with buildx, else a client that takes DOCKER_BUILDKIT=1)',
  },
  {
    key: 'privileged',
    kind: 'bool',
    env: ['G3_PRIVILEGED'],
    flag: 'privileged',
    description: 'run the build container with --privileged instead of the named capabilities it needs (default: off)',
  },
  {
    key: 'scratch',
    kind: 'string',
    env: ['G3_SCRATCH'],
    flag: 'scratch',
    choices: ['auto', 'tmpfs', 'disk'],
    description:
      "where the image's root filesystem is assembled: tmpfs (memory of the build container), disk (the image build directory), or auto: tmpfs when the host has 4 GiB of memory available (default: auto)",
  },
  {
    key: 'lock_stale',
    kind: 'int',
    env: ['G3_LOCK_STALE'],
    description: 'seconds without heartbeat before a lock is considered stale (default: 60)',
    min: 1,
    max: 86400,
  },
  {
    key: 'registry',
    kind: 'string',
    env: ['G3_REGISTRY'],
    // A bare host[:port]: a scheme or path here would end up inside image references.
    pattern: /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(:\d{1,5})?$/,
    expected: 'host[:port] without a scheme or path, e.g. 127.0.0.1:5000',
    description: 'default registry host[:port] for targets that name none (default: none)',
  },
  {
    key: 'cache_registry',
    kind: 'string',
    env: ['G3_CACHE_REGISTRY'],
    flag: 'cache-registry',
    flagHelp: { text: 'OCI registry repository used as a cache tier', value: 'REF' },
    // host[:port]/path, lowercase path elements: no scheme, tag or digest.
    pattern: /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(:\d{1,5})?(\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)+$/,
    expected: 'host[:port]/repository without a scheme, tag or digest, e.g. 127.0.0.1:5000/g3-cache',
    description: 'OCI registry repository used as a cache tier between the shared cache and the origin (default: none)',
  },
  {
    key: 'insecure_registries',
    kind: 'string',
    env: ['G3_INSECURE_REGISTRIES'],
    pattern:
      /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(:\d{1,5})?(,(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(:\d{1,5})?)*$/,
    expected: 'a comma-separated list of host[:port], e.g. cache.lan:5000',
    description: 'registries (host[:port], comma-separated) spoken to over plain HTTP though not on loopback (default: none)',
  },
  {
    key: 'log_level',
    kind: 'string',
    env: ['G3_LOG_LEVEL'],
    choices: ['error', 'warn', 'info', 'debug'],
    description: 'least severe event written to the run log (default: info)',
  },
  { key: 'log_file', kind: 'path', env: ['G3_LOG_FILE'], description: 'run log; - or none: no run log (default: <work_dir>/logs/g3-composer.log)' },
] as const satisfies readonly SettingDef[];

export type SettingKey = (typeof SETTINGS)[number]['key'];

export const DEFAULTS: Partial<Record<SettingKey, string>> = {
  cache_dir: 'cache',
  work_dir: 'workspace',
  // 12: against a mirror that limits each connection, faster than 8 and no slower than 16 (docs/settings.md).
  workers: '12',
  offline: 'false',
  ignore_valid_until: 'false',
  http_timeout: '30',
  http_min_speed: '1024',
  max_download_mib: '4096',
  max_index_mib: '256',
  retries: '4',
  retry_backoff_ms: '500',
  lock_stale: '60',
  privileged: 'false',
  scratch: 'auto',
  log_level: 'info',
};
